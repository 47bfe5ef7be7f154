// SCALE: dst = src0 * f_params[0].
#include <string>

#include "elementwise.hpp"

namespace tessera::cpu {

void op_scale(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const float s = node.f_param(0);
  if (!std::isfinite(s)) node.fail("f_params[0] (scale) is " + std::to_string(s) + ", expected a finite value");
  elementwise_rows(node, src0_dtypes, pool, false, [s](const float* x, const float*, float* out, int64_t k) {
    for (int64_t i = 0; i < k; ++i) out[i] = x[i] * s;
  });
}

}  // namespace tessera::cpu
