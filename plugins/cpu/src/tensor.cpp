#include "tensor.hpp"

#include "tessera/types.h"

namespace tessera::cpu {

std::string shape_text(const int64_t ne[4]) {
  std::string s = "[";
  for (int i = 0; i < 4; ++i) {
    if (i > 0) s += ", ";
    s += ne[i] < 0 ? std::string("*") : std::to_string(ne[i]);  // -1: any size
  }
  return s + "]";
}

std::string dtype_text(int32_t dtype) {
  const char* name = tessera_dtype_info(dtype).name;
  return name != nullptr ? std::string(name) : "dtype " + std::to_string(dtype);
}

}  // namespace tessera::cpu
