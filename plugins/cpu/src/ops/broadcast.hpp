// MUL and ADD share this: dst = f(src0, src1), with src1 repeated over src0
// where its sizes are smaller (each must divide src0's: a [K] weight over
// [K x N] rows, say).
#pragma once

#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {

template <class F>
void broadcast_binary(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, F f) {
  const auto checked = sdk::check_broadcast_binary(node, src0_dtypes);
  const Tensor &a = checked.a, &b = checked.b, &dst = checked.dst;
  if (pool == nullptr) return;

  const int64_t k = a.ne[0], kb = b.ne[0];
  pool->run(a.rows(), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i1 = r % a.ne[1], i2 = (r / a.ne[1]) % a.ne[2], i3 = r / (a.ne[1] * a.ne[2]);
      const auto* x = reinterpret_cast<const float*>(a.row(r));
      const auto* y = reinterpret_cast<const float*>(b.at(0, i1 % b.ne[1], i2 % b.ne[2], i3 % b.ne[3]));
      auto* out = reinterpret_cast<float*>(dst.row(r));
      if (kb == k) {
        for (int64_t i = 0; i < k; ++i) out[i] = f(x[i], y[i]);
      } else {
        for (int64_t i = 0; i < k; ++i) out[i] = f(x[i], y[i % kb]);
      }
    }
  });
}

}  // namespace tessera::cpu
