// One graph node as the executor sees it: its tensors resolved to device
// addresses and checked, and error helpers that name the node, the op, the
// tensor and what was expected.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "tensor.hpp"
#include "tessera/compute.h"

namespace tessera::cuda {

class Node {
 public:
  Node(const tessera_node& node, uint64_t index, const tessera_backend& backend)
      : node_(node), index_(index), backend_(backend) {}

  int32_t op() const { return node_.op; }
  const char* op_name() const;
  const tessera_node& raw() const { return node_; }

  // "attention (graph node 3)"
  std::string where() const;
  [[noreturn]] void fail(const std::string& message) const;

  // Resolves dst / src `slot`: struct_size, n_dims, sizes, dtype in
  // `dtypes`, a buffer of this backend's device, every element inside it.
  Tensor dst(std::span<const int32_t> dtypes) const;
  Tensor src(int slot, std::span<const int32_t> dtypes) const;
  Tensor dst(std::initializer_list<int32_t> dtypes) const { return dst(std::span(dtypes.begin(), dtypes.size())); }
  Tensor src(int slot, std::initializer_list<int32_t> dtypes) const {
    return src(slot, std::span(dtypes.begin(), dtypes.size()));
  }
  bool has_src(int slot) const { return node_.src[slot] != nullptr; }

  void expect_shape(const Tensor& t, const int64_t want[4], const std::string& why) const;  // -1 = any
  void expect_same_shape(const Tensor& t, const Tensor& like) const;
  void expect_contiguous_rows(const Tensor& t) const;
  void expect_broadcastable(const Tensor& t, const Tensor& big) const;
  void expect_no_overlap(const Tensor& dst, const Tensor& src) const;

  float f_param(int i) const { return node_.f_params[i]; }
  int32_t i_param(int i) const { return node_.i_params[i]; }

 private:
  Tensor resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const;
  Tensor resolve_gptq(const tessera_tensor& t, Tensor out) const;

  const tessera_node& node_;
  uint64_t index_;
  const tessera_backend& backend_;
};

}  // namespace tessera::cuda
