#include "tensor.hpp"

#include "tessera/types.h"

namespace tessera::cuda {

std::string shape_text(const int64_t ne[4]) {
  return "[" + std::to_string(ne[0]) + ", " + std::to_string(ne[1]) + ", " + std::to_string(ne[2]) + ", " +
         std::to_string(ne[3]) + "]";
}

std::string dtype_text(int32_t dtype) {
  const char* name = tessera_dtype_info(dtype).name;
  return name != nullptr ? std::string(name) : "dtype " + std::to_string(dtype);
}

}  // namespace tessera::cuda
