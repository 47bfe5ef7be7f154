// RMS_NORM: dst = src0 / sqrt(mean(src0^2) + eps) over each row; eps = f_params[0].
#include <cmath>

#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {

void op_rms_norm(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const auto checked = sdk::check_rms_norm(node, src0_dtypes);
  const Tensor &x = checked.x, &dst = checked.dst;
  const float eps = checked.eps;
  if (pool == nullptr) return;

  const int64_t k = x.ne[0];
  pool->run(x.rows(), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const auto* in = reinterpret_cast<const float*>(x.row(r));
      auto* out = reinterpret_cast<float*>(dst.row(r));
      double sum = 0;  // double: this path is the accuracy reference
      for (int64_t i = 0; i < k; ++i) sum += static_cast<double>(in[i]) * in[i];
      const double mean = k > 0 ? sum / static_cast<double>(k) : 0.0;
      const float inv = static_cast<float>(1.0 / std::sqrt(mean + eps));
      for (int64_t i = 0; i < k; ++i) out[i] = in[i] * inv;
    }
  });
}

}  // namespace tessera::cpu
