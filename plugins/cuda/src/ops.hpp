// The ops of the cuda plugin: per op, the host-side validation of a node
// (mirroring the cpu plugin's reference semantics and messages) producing
// the kernel launch for it. Validation runs for every node of a graph before
// anything is launched, so a bad node never leaves earlier outputs half
// written.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "kernels/launch.hpp"
#include "node.hpp"

namespace tessera::cuda {

struct PreparedNode {
  std::string where;  // "attention (graph node 3) on dst 'attn_heads'", for errors
  NodeDyn dyn;        // this step's dynamic values, uploaded before launch
  std::function<cudaError_t(cudaStream_t)> launch;  // empty for TESSERA_OP_NONE
};

// Validates `node` (throws sdk::Error naming node, tensor and expectation)
// and returns its launch. `dyn` is the node's slot in the device NodeDyn array.
PreparedNode prepare_node(const Node& node, tessera_backend& backend, const NodeDyn* dyn);

// supports_op: whether `op` runs with a first source of `src0_dtype`.
bool supports(int32_t op, int32_t src0_dtype);
// The first-source dtypes of `op`, for messages.
std::span<const int32_t> supported_dtypes(int32_t op);

}  // namespace tessera::cuda
