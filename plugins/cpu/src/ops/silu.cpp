// SILU: dst = src0 * sigmoid(src0).
#include <string>

#include "elementwise.hpp"

namespace tessera::cpu {

void op_silu(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  elementwise_rows(node, src0_dtypes, pool, false, [](const float* x, const float*, float* out, int64_t k) {
    for (int64_t i = 0; i < k; ++i) out[i] = silu(x[i]);
  });
}

}  // namespace tessera::cpu
