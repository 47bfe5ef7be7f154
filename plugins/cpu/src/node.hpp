// One graph node as an op sees it: its tensors resolved and checked, and
// error helpers that name the node, the op, the tensor and what was expected
// (the SDK's CheckedNode, shared with the other backends).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tensor.hpp"
#include "tessera/compute.h"
#include "tessera/cpp/tensor_check.hpp"

namespace tessera::cpu {

class Node : public sdk::CheckedNode<Node, Tensor> {
 public:
  Node(const tessera_node& node, uint64_t index) : CheckedNode(node, index) {}

 private:
  friend class sdk::CheckedNode<Node, Tensor>;
  // dst() / src(): the SDK's checks, that the buffer is a cpu buffer and
  // that every element lies inside it (GPTQ: that the header and every
  // section it names are sound and inside the buffer; nb is then all 0).
  Tensor resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const;
  Tensor resolve_gptq(const tessera_tensor& t, Tensor out) const;
};

}  // namespace tessera::cpu
