// tessera/cpp/op_checks.hpp - optional header-only helper for compute
// plugins: what each standard op requires of its node (dtypes, shapes,
// params), so every backend accepts and refuses the same graphs with the
// same words. Each check_* resolves the op's tensors through a node built on
// tessera/cpp/tensor_check.hpp and returns them with the op's parameters; a
// backend adds only its own limits after it. (Code whose lambdas use the
// results names them as variables: clang < 16 cannot capture structured
// bindings.)
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

#include "tessera/cpp/tensor_check.hpp"

namespace tessera::sdk {

// First-source dtype lists of the standard ops.
namespace op_dtypes {
inline constexpr std::array<int32_t, 1> f32 = {TESSERA_DTYPE_F32};
inline constexpr std::array<int32_t, 2> f32_f16 = {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16};
// KV cache types: attention reads them, copy writes them.
inline constexpr std::array<int32_t, 3> kv_cache = {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0};
// Every type the SDK's reference dequantizer reads (get_rows tables).
inline constexpr std::array<int32_t, 16> dequantizable = {
    TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1,
    TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K,
    TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL,
    TESSERA_DTYPE_IQ4_XS};
// mul_mat weights: the above and the GPTQ layouts.
inline constexpr std::array<int32_t, 19> mul_mat_weights = {
    TESSERA_DTYPE_F32,    TESSERA_DTYPE_F16,       TESSERA_DTYPE_BF16,      TESSERA_DTYPE_Q4_0,
    TESSERA_DTYPE_Q4_1,   TESSERA_DTYPE_Q5_0,      TESSERA_DTYPE_Q5_1,      TESSERA_DTYPE_Q8_0,
    TESSERA_DTYPE_Q2_K,   TESSERA_DTYPE_Q3_K,      TESSERA_DTYPE_Q4_K,      TESSERA_DTYPE_Q5_K,
    TESSERA_DTYPE_Q6_K,   TESSERA_DTYPE_Q8_K,      TESSERA_DTYPE_IQ4_NL,    TESSERA_DTYPE_IQ4_XS,
    TESSERA_DTYPE_GPTQ_4BIT, TESSERA_DTYPE_GPTQ_8BIT, TESSERA_DTYPE_GPTQ_3BIT};
}  // namespace op_dtypes

// GET_ROWS: src0 a 2-D table of rows, src1 I32 ids in at most 3 dimensions,
// dst F32 [ne[0] of src0, then the shape of src1].
template <class Tensor>
struct GetRowsNode {
  Tensor table, ids, dst;
};
template <class Node>
auto check_get_rows(const Node& node, std::span<const int32_t> table_dtypes) {
  GetRowsNode<typename Node::TensorType> n{node.src(0, table_dtypes), node.src(1, {TESSERA_DTYPE_I32}),
                                           node.dst({TESSERA_DTYPE_F32})};
  const int64_t want_table[4] = {-1, -1, 1, 1};
  node.expect_shape(n.table, want_table, "a 2-D table of rows");
  const int64_t want_ids[4] = {-1, -1, -1, 1};
  node.expect_shape(n.ids, want_ids, "row ids in at most 3 dimensions");
  const int64_t want_dst[4] = {n.table.ne[0], n.ids.ne[0], n.ids.ne[1], n.ids.ne[2]};
  node.expect_shape(n.dst, want_dst, "ne[0] of src0, then the shape of src1");
  node.expect_contiguous_rows(n.table);
  node.expect_contiguous_rows(n.dst);
  node.expect_no_overlap(n.dst, n.table);
  node.expect_no_overlap(n.dst, n.ids);
  return n;
}

// RMS_NORM: dst F32 like src0, rows contiguous; eps = f_params[0], finite and >= 0.
template <class Tensor>
struct RmsNormNode {
  Tensor x, dst;
  float eps;
};
template <class Node>
auto check_rms_norm(const Node& node, std::span<const int32_t> src0_dtypes) {
  RmsNormNode<typename Node::TensorType> n{node.src(0, src0_dtypes), node.dst({TESSERA_DTYPE_F32}), 0.0f};
  node.expect_same_shape(n.dst, n.x);
  node.expect_contiguous_rows(n.x);
  node.expect_contiguous_rows(n.dst);
  n.eps = node.f_param(0);
  if (!std::isfinite(n.eps) || n.eps < 0)
    node.fail("f_params[0] (epsilon) is " + std::to_string(n.eps) + ", expected a finite value >= 0");
  return n;
}

// MUL, ADD: dst F32 like src0, src1 F32 repeated over src0 (each size divides src0's).
template <class Tensor>
struct BinaryNode {
  Tensor a, b, dst;
};
template <class Node>
auto check_broadcast_binary(const Node& node, std::span<const int32_t> src0_dtypes) {
  BinaryNode<typename Node::TensorType> n{node.src(0, src0_dtypes), node.src(1, {TESSERA_DTYPE_F32}),
                                          node.dst({TESSERA_DTYPE_F32})};
  node.expect_broadcastable(n.b, n.a);
  node.expect_same_shape(n.dst, n.a);
  node.expect_contiguous_rows(n.a);
  node.expect_contiguous_rows(n.b);
  node.expect_contiguous_rows(n.dst);
  return n;
}

// SILU, SCALE (one input), SWIGLU (two of one shape): dst F32 like src0, rows contiguous.
template <class Tensor>
struct RowwiseNode {
  Tensor x, y, dst;  // y: only with two inputs
};
template <class Node>
auto check_rowwise(const Node& node, std::span<const int32_t> src0_dtypes, bool two_inputs) {
  RowwiseNode<typename Node::TensorType> n;
  n.x = node.src(0, src0_dtypes);
  if (two_inputs) {
    n.y = node.src(1, {TESSERA_DTYPE_F32});
    node.expect_same_shape(n.y, n.x);
    node.expect_contiguous_rows(n.y);
  }
  n.dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_same_shape(n.dst, n.x);
  node.expect_contiguous_rows(n.x);
  node.expect_contiguous_rows(n.dst);
  return n;
}

// ROPE: dst F32 like src0 [head_dim, heads, tokens, B]; src1 I32 positions,
// one per token or one per row; i_params[0] = n_rot (even, <= head_dim),
// f_params[0] = freq_base, f_params[1] = freq_scale (finite, > 0).
template <class Tensor>
struct RopeNode {
  Tensor x, pos, dst;
  bool per_row;  // one position per row rather than per token
  int32_t n_rot;
  float freq_base, freq_scale;
};
template <class Node>
auto check_rope(const Node& node, std::span<const int32_t> src0_dtypes) {
  RopeNode<typename Node::TensorType> n{node.src(0, src0_dtypes), node.src(1, {TESSERA_DTYPE_I32}),
                                        node.dst({TESSERA_DTYPE_F32}), false, 0, 0.0f, 0.0f};
  const auto& x = n.x;
  const auto& pos = n.pos;
  node.expect_same_shape(n.dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(n.dst);
  node.expect_contiguous_rows(pos);
  const int64_t tokens = x.ne[2] * x.ne[3];
  const int64_t want_pos[4] = {pos.ne[0], 1, 1, 1};
  node.expect_shape(pos, want_pos, "a 1-D list of positions");
  n.per_row = pos.ne[0] == x.rows() && pos.ne[0] != tokens;
  if (pos.ne[0] != tokens && !n.per_row)
    node.fail(pos.label + " has " + std::to_string(pos.ne[0]) + " positions, expected one per token (" +
              std::to_string(tokens) + " = src0 ne[2] * ne[3]) or one per row (" + std::to_string(x.rows()) + ")");
  n.n_rot = node.i_param(0);
  if (n.n_rot <= 0 || n.n_rot % 2 != 0 || n.n_rot > x.ne[0])
    node.fail("i_params[0] (n_rot) is " + std::to_string(n.n_rot) + ", expected an even number in [2, " +
              std::to_string(x.ne[0]) + "] (src0 ne[0])");
  n.freq_base = node.f_param(0);
  n.freq_scale = node.f_param(1);
  if (!std::isfinite(n.freq_base) || n.freq_base <= 0)
    node.fail("f_params[0] (freq_base) is " + std::to_string(n.freq_base) + ", expected a finite value > 0");
  if (!std::isfinite(n.freq_scale) || n.freq_scale <= 0)
    node.fail("f_params[1] (freq_scale) is " + std::to_string(n.freq_scale) + ", expected a finite value > 0");
  return n;
}

// SOFTMAX: dst F32 like src0; optional src1 F32 mask with src0's ne[0],
// repeated over src0; scale = f_params[0], finite.
template <class Tensor>
struct SoftmaxNode {
  Tensor x, dst, mask;
  bool masked;
  float scale;
};
template <class Node>
auto check_softmax(const Node& node, std::span<const int32_t> src0_dtypes) {
  SoftmaxNode<typename Node::TensorType> n{node.src(0, src0_dtypes), node.dst({TESSERA_DTYPE_F32}), {}, false, 0.0f};
  node.expect_same_shape(n.dst, n.x);
  node.expect_contiguous_rows(n.x);
  node.expect_contiguous_rows(n.dst);
  n.masked = node.has_src(1);
  if (n.masked) {
    n.mask = node.src(1, {TESSERA_DTYPE_F32});
    const int64_t want[4] = {n.x.ne[0], -1, -1, -1};
    node.expect_shape(n.mask, want, "the mask's ne[0] must equal src0 ne[0]");
    node.expect_broadcastable(n.mask, n.x);
    node.expect_contiguous_rows(n.mask);
  }
  n.scale = node.f_param(0);
  if (!std::isfinite(n.scale))
    node.fail("f_params[0] (scale) is " + std::to_string(n.scale) + ", expected a finite value");
  return n;
}

// COPY: src0 into dst (F32, F16 or Q8_0) with as many elements.
template <class Tensor>
struct CopyNode {
  Tensor src, dst;
};
template <class Node>
auto check_copy(const Node& node, std::span<const int32_t> src0_dtypes) {
  CopyNode<typename Node::TensorType> n{node.src(0, src0_dtypes),
                                        node.dst({TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0})};
  if (n.dst.elements() != n.src.elements())
    node.fail(n.dst.label + " has shape " + shape_text(n.dst.ne) + " (" + std::to_string(n.dst.elements()) +
              " elements), expected as many elements as src0 " + shape_text(n.src.ne) + " (" +
              std::to_string(n.src.elements()) + ")");
  return n;
}

// ATTENTION (semantics in tessera/types.h): Q F32 [D, H, T], K and V caches
// of one kv dtype [D, Hkv, C], dst F32 like Q. Checked in three steps so a
// backend can add its own limits between them.
template <class Tensor>
struct AttentionNode {
  Tensor q, k, v, dst;
  int64_t first = 0, valid = 0;  // i_params: first new position, valid cache positions
};
// 1: the tensors and their shapes.
template <class Node>
auto check_attention_shapes(const Node& node, std::span<const int32_t> kv_dtypes) {
  AttentionNode<typename Node::TensorType> n{node.src(0, {TESSERA_DTYPE_F32}), node.src(1, kv_dtypes),
                                             node.src(2, kv_dtypes), node.dst({TESSERA_DTYPE_F32})};
  const int64_t want_kv[4] = {n.q.ne[0], -1, -1, 1};
  node.expect_shape(n.k, want_kv, "head_dim of src0, then KV heads and cache length");
  node.expect_same_shape(n.v, n.k);
  node.expect_same_shape(n.dst, n.q);
  return n;
}
// 2: three dimensions, KV heads that divide the query heads.
template <class Node, class Tensor>
void check_attention_heads(const Node& node, const AttentionNode<Tensor>& n) {
  const int64_t heads = n.q.ne[1], kv_heads = n.k.ne[1];
  if (n.q.ne[3] != 1) node.fail(n.q.label + " has shape " + shape_text(n.q.ne) + ", expected 3 dimensions");
  if (kv_heads < 1 || heads % kv_heads != 0)
    node.fail(n.k.label + " has " + std::to_string(kv_heads) + " KV heads, which must divide the " +
              std::to_string(heads) + " query heads");
}
// 3: the cache window in i_params, contiguous rows, dst apart from the inputs.
template <class Node, class Tensor>
void check_attention_window(const Node& node, AttentionNode<Tensor>& n) {
  const int64_t tokens = n.q.ne[2], ctx = n.k.ne[2];
  n.first = node.i_param(0);
  n.valid = node.i_param(1);
  if (n.first < 0 || n.valid < n.first + tokens || n.valid > ctx)
    node.fail("i_params give first position " + std::to_string(n.first) + " and " + std::to_string(n.valid) +
              " valid cache positions; expected 0 <= first, first + " + std::to_string(tokens) +
              " tokens <= valid <= cache length " + std::to_string(ctx));
  for (const Tensor* t : {&n.q, &n.k, &n.v, &n.dst}) node.expect_contiguous_rows(*t);
  node.expect_no_overlap(n.dst, n.q);
  node.expect_no_overlap(n.dst, n.k);
  node.expect_no_overlap(n.dst, n.v);
}

}  // namespace tessera::sdk
