// A tessera_tensor checked and resolved to a host address: what an op reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tessera/compute.h"
#include "tessera/cpp/tensor_check.hpp"

namespace tessera::cpu {

struct Tensor {
  std::string label;  // "src1 'blk.0.ffn_up'" for messages
  int32_t dtype = TESSERA_DTYPE_INVALID;
  int64_t ne[4] = {1, 1, 1, 1};  // dimensions past n_dims read as 1
  uint64_t nb[4] = {0, 0, 0, 0};
  uint64_t element_size = 0;
  std::byte* data = nullptr;  // element (0, 0, 0, 0)
  uint64_t extent = 0;        // bytes from `data` to one past the last element

  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t elements() const { return ne[0] * rows(); }
  bool rows_contiguous() const { return nb[0] == element_size; }

  std::byte* at(int64_t i0, int64_t i1, int64_t i2, int64_t i3) const {
    return data + static_cast<uint64_t>(i0) * nb[0] + static_cast<uint64_t>(i1) * nb[1] +
           static_cast<uint64_t>(i2) * nb[2] + static_cast<uint64_t>(i3) * nb[3];
  }
  // Row `r` of the flattened rows (i1 fastest, then i2, then i3).
  std::byte* row(int64_t r) const {
    const int64_t i1 = r % ne[1], i2 = (r / ne[1]) % ne[2], i3 = r / (ne[1] * ne[2]);
    return at(0, i1, i2, i3);
  }
  // Whether the bytes of this tensor and `other` may overlap.
  bool overlaps(const Tensor& other) const {
    return extent > 0 && other.extent > 0 && data < other.data + other.extent && other.data < data + extent;
  }
};

// Messages word shapes and dtypes as every backend does.
using sdk::dtype_text;
using sdk::shape_text;

}  // namespace tessera::cpu
