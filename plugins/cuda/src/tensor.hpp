// A tessera_tensor checked and resolved to a device address: what the host
// side of an op reads to fill a kernel's argument struct.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/launch.hpp"
#include "tessera/compute.h"
#include "tessera/cpp/tensor_check.hpp"

namespace tessera::cuda {

struct Tensor {
  std::string label;  // "src1 'blk.0.ffn_up'" for messages
  int32_t dtype = -1;
  int64_t ne[4] = {1, 1, 1, 1};  // dimensions past n_dims read as 1
  uint64_t nb[4] = {0, 0, 0, 0};
  uint64_t element_size = 0;     // bytes of one element (one block for quantized types)
  tessera_buffer* buffer = nullptr;
  uint64_t offset = 0;
  uint8_t* data = nullptr;       // device address of element (0, 0, 0, 0)
  uint64_t extent = 0;           // bytes from `data` to one past the last element

  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t elements() const { return ne[0] * rows(); }
  bool rows_contiguous() const { return nb[0] == element_size; }
  Rows row_layout() const { return Rows{ne[1], ne[2], nb[1], nb[2], nb[3]}; }
  bool overlaps(const Tensor& other) const {
    return extent > 0 && other.extent > 0 && data < other.data + other.extent && other.data < data + extent;
  }
};

// Messages word shapes and dtypes as every backend does.
using sdk::dtype_text;
using sdk::shape_text;

}  // namespace tessera::cuda
