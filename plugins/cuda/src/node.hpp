// One graph node as the executor sees it: its tensors resolved to device
// addresses and checked, and error helpers that name the node, the op, the
// tensor and what was expected (the SDK's CheckedNode, shared with the other
// backends).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tensor.hpp"
#include "tessera/compute.h"
#include "tessera/cpp/tensor_check.hpp"

namespace tessera::cuda {

class Node : public sdk::CheckedNode<Node, Tensor> {
 public:
  // Messages start "cuda: " and print an expected shape's "any size" as -1.
  Node(const tessera_node& node, uint64_t index, const tessera_backend& backend)
      : CheckedNode(node, index, sdk::NodeWording{"cuda: ", "-1"}), backend_(backend) {}

 private:
  friend class sdk::CheckedNode<Node, Tensor>;
  // dst() / src(): the SDK's checks, then a buffer of this backend's device
  // with every element inside it.
  Tensor resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const;
  Tensor resolve_gptq(const tessera_tensor& t, Tensor out) const;

  const tessera_backend& backend_;
};

}  // namespace tessera::cuda
