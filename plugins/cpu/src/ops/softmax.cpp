// SOFTMAX over each row: dst = softmax(src0 * scale + mask), scale =
// f_params[0], mask = optional src1 (F32, ne[0] equal to src0's, other sizes
// repeated over src0's like ADD). A row that is all -inf gives zeros rather
// than NaN (a fully masked query attends to nothing).
#include <cmath>
#include <limits>
#include <string>

#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {

void op_softmax(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const auto checked = sdk::check_softmax(node, src0_dtypes);
  const Tensor &x = checked.x, &dst = checked.dst, &mask = checked.mask;
  const bool masked = checked.masked;
  const float scale = checked.scale;
  if (pool == nullptr) return;

  const int64_t k = x.ne[0];
  pool->run(x.rows(), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i1 = r % x.ne[1], i2 = (r / x.ne[1]) % x.ne[2], i3 = r / (x.ne[1] * x.ne[2]);
      const auto* in = reinterpret_cast<const float*>(x.row(r));
      const float* m =
          masked ? reinterpret_cast<const float*>(mask.at(0, i1 % mask.ne[1], i2 % mask.ne[2], i3 % mask.ne[3]))
                 : nullptr;
      auto* out = reinterpret_cast<float*>(dst.row(r));
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < k; ++i) {
        out[i] = in[i] * scale + (m != nullptr ? m[i] : 0.0f);
        if (out[i] > max) max = out[i];
      }
      if (max == -std::numeric_limits<float>::infinity()) {
        for (int64_t i = 0; i < k; ++i) out[i] = 0.0f;
        continue;
      }
      double sum = 0;
      for (int64_t i = 0; i < k; ++i) {
        out[i] = std::exp(out[i] - max);
        sum += out[i];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t i = 0; i < k; ++i) out[i] *= inv;
    }
  });
}

}  // namespace tessera::cpu
