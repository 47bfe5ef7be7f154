// SWIGLU: dst = silu(src0) * src1 (the llama feed-forward gate).
#include <string>

#include "elementwise.hpp"

namespace tessera::cpu {

void op_swiglu(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  elementwise_rows(node, src0_dtypes, pool, true, [](const float* x, const float* y, float* out, int64_t k) {
    for (int64_t i = 0; i < k; ++i) out[i] = silu(x[i]) * y[i];
  });
}

}  // namespace tessera::cpu
