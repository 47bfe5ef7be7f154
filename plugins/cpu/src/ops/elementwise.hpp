// Row-wise element-wise ops on F32 (silu, swiglu, scale): the shared
// validation and row loop, so each op file holds only its arithmetic.
#pragma once

#include <cmath>

#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {

inline float silu(float v) { return v / (1.0f + std::exp(-v)); }

// Runs f(x_row, y_row or nullptr, out_row, k) over every row.
template <class F>
void elementwise_rows(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, bool binary, F f) {
  const auto checked = sdk::check_rowwise(node, src0_dtypes, binary);
  const Tensor &x = checked.x, &y = checked.y, &dst = checked.dst;
  if (pool == nullptr) return;
  pool->run(x.rows(), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r)
      f(reinterpret_cast<const float*>(x.row(r)), binary ? reinterpret_cast<const float*>(y.row(r)) : nullptr,
        reinterpret_cast<float*>(dst.row(r)), x.ne[0]);
  });
}

}  // namespace tessera::cpu
