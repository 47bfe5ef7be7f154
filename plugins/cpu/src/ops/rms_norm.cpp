// RMS_NORM: dst = src0 / sqrt(mean(src0^2) + eps) over each row; eps = f_params[0].
#include <cmath>

#include "ops.hpp"

namespace tessera::cpu {

void op_rms_norm(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const Tensor x = node.src(0, src0_dtypes);
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_same_shape(dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(dst);
  const float eps = node.f_param(0);
  if (!std::isfinite(eps) || eps < 0)
    node.fail("f_params[0] (epsilon) is " + std::to_string(eps) + ", expected a finite value >= 0");
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
