// One graph node as an op sees it: its tensors resolved and checked, and
// error helpers that name the node, the op, the tensor and what was expected.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "tensor.hpp"
#include "tessera/compute.h"

namespace tessera::cpu {

class Node {
 public:
  Node(const tessera_node& node, uint64_t index) : node_(node), index_(index) {}

  int32_t op() const { return node_.op; }
  const char* op_name() const;
  const tessera_node& raw() const { return node_; }

  // "mul_mat (graph node 3)"
  std::string where() const;

  // Throws sdk::Error(INVALID_ARGUMENT) with where() prepended.
  [[noreturn]] void fail(const std::string& message) const;

  // Resolves the destination / source `slot`. Checks struct_size, n_dims,
  // sizes, that dtype is one of `dtypes`, that the buffer is a cpu buffer
  // and that every element lies inside it (GPTQ: that the header and every
  // section it names are sound and inside the buffer; nb is then all 0).
  Tensor dst(std::span<const int32_t> dtypes) const;
  Tensor src(int slot, std::span<const int32_t> dtypes) const;
  Tensor dst(std::initializer_list<int32_t> dtypes) const { return dst(std::span(dtypes.begin(), dtypes.size())); }
  Tensor src(int slot, std::initializer_list<int32_t> dtypes) const {
    return src(slot, std::span(dtypes.begin(), dtypes.size()));
  }
  bool has_src(int slot) const { return node_.src[slot] != nullptr; }

  // Fails unless t.ne matches `want` (-1 = any size), explaining `why`.
  void expect_shape(const Tensor& t, const int64_t want[4], const std::string& why) const;
  void expect_same_shape(const Tensor& t, const Tensor& like) const;
  // Fails unless t.nb[0] is the element size (ops walk rows linearly).
  void expect_contiguous_rows(const Tensor& t) const;
  // Fails unless each t.ne[i] divides big.ne[i] (broadcast by repetition).
  void expect_broadcastable(const Tensor& t, const Tensor& big) const;
  void expect_no_overlap(const Tensor& dst, const Tensor& src) const;

  float f_param(int i) const { return node_.f_params[i]; }
  int32_t i_param(int i) const { return node_.i_params[i]; }

 private:
  Tensor resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const;
  Tensor resolve_gptq(const tessera_tensor& t, Tensor out) const;

  const tessera_node& node_;
  uint64_t index_;
};

}  // namespace tessera::cpu
