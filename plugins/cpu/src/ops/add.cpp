// ADD: dst = src0 + src1 (src1 broadcast, see broadcast.hpp).
#include "broadcast.hpp"

namespace tessera::cpu {

void op_add(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  broadcast_binary(node, src0_dtypes, pool, [](float x, float y) { return x + y; });
}

}  // namespace tessera::cpu
