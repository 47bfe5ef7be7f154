#include "ops.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <vector>

#include "backend.hpp"
#include "kernels/mul_mat/mul_mat.cuh"
#include "tessera/cpp/op_checks.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::cuda {
namespace {

namespace dt = sdk::op_dtypes;
constexpr auto& kF32 = dt::f32;
constexpr auto& kF32F16 = dt::f32_f16;
constexpr auto& kKvTypes = dt::kv_cache;
// get_rows: every type the SDK's reference dequantizer reads (its block
// functions run on the device unchanged).
constexpr auto& kTables = dt::dequantizable;

// mul_mat: whatever the mul_mat kernels say they take.
const std::vector<int32_t>& mul_mat_dtypes() {
  static const std::vector<int32_t> dtypes = [] {
    std::vector<int32_t> out;
    for (int32_t d : dt::mul_mat_weights)
      if (mul_mat_supported(d)) out.push_back(d);
    return out;
  }();
  return dtypes;
}

std::string label_of(const Tensor& t) { return t.label; }

PreparedNode make(const Node& node, const Tensor& dst, std::function<cudaError_t(cudaStream_t)> launch) {
  PreparedNode p;
  p.where = node.where() + " writing " + label_of(dst);
  p.launch = std::move(launch);
  return p;
}

// --- per op ------------------------------------------------------------------

PreparedNode get_rows(const Node& node, tessera_backend& backend) {
  const auto [table, ids, dst] = sdk::check_get_rows(node, kTables);
  if (table.ne[1] > INT32_MAX) node.fail(table.label + " has more rows than an I32 id can name");
  GetRowsArgs a;
  a.dtype = table.dtype;
  a.table = table.data;
  a.table_row_bytes = table.nb[1];
  a.n_table_rows = table.ne[1];
  a.k = table.ne[0];
  a.ids = ids.data;
  a.ids_ne0 = std::max<int64_t>(ids.ne[0], 1);
  a.ids_ne1 = std::max<int64_t>(ids.ne[1], 1);
  a.ids_nb0 = ids.nb[0];
  a.ids_nb1 = ids.nb[1];
  a.ids_nb2 = ids.nb[2];
  a.n_ids = ids.elements();
  a.dst = dst.data;
  a.dst_rows = dst.row_layout();
  a.error_word = backend.error_word;
  return make(node, dst, [a](cudaStream_t s) { return launch_get_rows(a, s); });
}

PreparedNode rms_norm(const Node& node) {
  const auto [x, dst, eps] = sdk::check_rms_norm(node, kF32);
  RmsNormArgs a;
  a.x = x.data;
  a.x_rows = x.row_layout();
  a.dst = dst.data;
  a.dst_rows = dst.row_layout();
  a.k = x.ne[0];
  a.n_rows = x.rows();
  a.eps = eps;
  return make(node, dst, [a](cudaStream_t s) { return launch_rms_norm(a, s); });
}

PreparedNode binary(const Node& node, cudaError_t (*launch)(const BinaryArgs&, cudaStream_t)) {
  const auto [x, y, dst] = sdk::check_broadcast_binary(node, kF32);
  BinaryArgs a;
  a.a = x.data;
  a.a_rows = x.row_layout();
  a.b = y.data;
  for (int i = 0; i < 4; ++i) {
    a.b_ne[i] = std::max<int64_t>(y.ne[i], 1);
    a.b_nb[i] = y.nb[i];
  }
  a.dst = dst.data;
  a.dst_rows = dst.row_layout();
  a.k = x.ne[0];
  a.n_rows = x.rows();
  return make(node, dst, [a, launch](cudaStream_t s) { return launch(a, s); });
}

PreparedNode rowwise(const Node& node, bool two_inputs, cudaError_t (*launch)(const UnaryArgs&, cudaStream_t)) {
  const auto [x, y, dst] = sdk::check_rowwise(node, kF32, two_inputs);
  UnaryArgs a;
  if (two_inputs) {
    a.y = y.data;
    a.y_rows = y.row_layout();
  }
  a.x = x.data;
  a.x_rows = x.row_layout();
  a.dst = dst.data;
  a.dst_rows = dst.row_layout();
  a.k = x.ne[0];
  a.n_rows = x.rows();
  if (node.op() == TESSERA_OP_SCALE) {
    a.scale = node.f_param(0);
    if (!std::isfinite(a.scale))
      node.fail("f_params[0] (scale) is " + std::to_string(a.scale) + ", expected a finite value");
  }
  return make(node, dst, [a, launch](cudaStream_t s) { return launch(a, s); });
}

PreparedNode rope(const Node& node) {
  const auto [x, pos, dst, per_row, n_rot, base, scale] = sdk::check_rope(node, kF32);
  RopeArgs a;
  a.x = x.data;
  a.x_rows = x.row_layout();
  a.dst = dst.data;
  a.dst_rows = dst.row_layout();
  a.positions = reinterpret_cast<const int32_t*>(pos.data);
  a.per_row = per_row;
  a.head_dim = x.ne[0];
  a.n_rows = x.rows();
  a.n_rot = n_rot;
  a.freq_base = base;
  a.freq_scale = scale;
  return make(node, dst, [a](cudaStream_t s) { return launch_rope(a, s); });
}

PreparedNode softmax(const Node& node) {
  const auto [x, dst, mask, masked, scale] = sdk::check_softmax(node, kF32);
  SoftmaxArgs a;
  if (masked) {
    a.mask = mask.data;
    for (int i = 0; i < 4; ++i) {
      a.mask_ne[i] = std::max<int64_t>(mask.ne[i], 1);
      a.mask_nb[i] = mask.nb[i];
    }
  }
  a.x = x.data;
  a.x_rows = x.row_layout();
  a.dst = dst.data;
  a.dst_rows = dst.row_layout();
  a.k = x.ne[0];
  a.n_rows = x.rows();
  a.scale = scale;
  return make(node, dst, [a](cudaStream_t s) { return launch_softmax(a, s); });
}

PreparedNode copy(const Node& node, const NodeDyn* dyn) {
  const auto [src, dst] = sdk::check_copy(node, kF32F16);
  node.expect_no_overlap(dst, src);
  CopyArgs a;
  a.src_dtype = src.dtype;
  a.dst_dtype = dst.dtype;
  a.src = src.data;
  a.dst_buffer = dst.buffer->data;
  a.dyn = dyn;
  for (int i = 0; i < 4; ++i) {
    a.src_ne[i] = std::max<int64_t>(src.ne[i], 1);
    a.src_nb[i] = src.nb[i];
    a.dst_ne[i] = std::max<int64_t>(dst.ne[i], 1);
    a.dst_nb[i] = dst.nb[i];
  }
  if (dst.dtype == TESSERA_DTYPE_Q8_0) a.dst_ne[0] = dst.ne[0];  // values, blocks of 32 (checked by resolve)
  a.n = src.elements();
  PreparedNode p = make(node, dst, [a](cudaStream_t s) { return launch_copy(a, s); });
  p.dyn.dst_offset = dst.offset;
  return p;
}

PreparedNode attention(const Node& node, tessera_backend& backend, const NodeDyn* dyn) {
  auto checked = sdk::check_attention_shapes(node, kKvTypes);
  const auto& [q, k, v, dst, first, valid] = checked;
  const int64_t d = q.ne[0], heads = q.ne[1], tokens = q.ne[2], kv_heads = k.ne[1], ctx = k.ne[2];
  if (v.dtype != k.dtype) node.fail(v.label + " has dtype " + dtype_text(v.dtype) + ", expected " + dtype_text(k.dtype) + " like src1");
  sdk::check_attention_heads(node, checked);
  if (d < 1 || d > kMaxHeadDim)
    node.fail(q.label + " has head_dim " + std::to_string(d) + "; the cuda attention kernels take 1 to " +
              std::to_string(kMaxHeadDim));
  if (heads > 65535) node.fail(q.label + " has " + std::to_string(heads) + " heads, more than 65535");
  sdk::check_attention_window(node, checked);
  AttentionArgs a;
  a.kv_dtype = k.dtype;
  a.q = q.data;
  a.q_nb1 = q.nb[1];
  a.q_nb2 = q.nb[2];
  a.k = k.data;
  a.k_nb1 = k.nb[1];
  a.k_nb2 = k.nb[2];
  a.v = v.data;
  a.v_nb1 = v.nb[1];
  a.v_nb2 = v.nb[2];
  a.dst = dst.data;
  a.dst_nb1 = dst.nb[1];
  a.dst_nb2 = dst.nb[2];
  a.head_dim = d;
  a.n_head = heads;
  a.n_kv_head = kv_heads;
  a.n_tokens = tokens;
  a.n_ctx = ctx;
  a.scale = node.f_param(0);
  if (!std::isfinite(a.scale)) node.fail("f_params[0] (score scale) is " + std::to_string(a.scale) + ", expected a finite value");
  a.dyn = dyn;
  Workspace* scratch = backend.attention_scratch.get();
  // One query token: split-K decode; more: the tiled prefill kernel.
  PreparedNode p = make(node, dst, [a, scratch](cudaStream_t s) mutable {
    if (a.n_tokens > 1) return launch_attention_prefill(a, s);
    void* partials = nullptr;
    if (cudaError_t e = scratch->reserve(attention_decode_partials_bytes(a), s, &partials); e != cudaSuccess) return e;
    a.partials = static_cast<float*>(partials);
    return launch_attention_decode(a, s);
  });
  p.dyn.first = static_cast<int32_t>(first);
  p.dyn.valid = static_cast<int32_t>(valid);
  return p;
}

PreparedNode mul_mat_node(const Node& node, tessera_backend& backend) {
  const Tensor w = node.src(0, mul_mat_dtypes());
  const Tensor x = node.src(1, {TESSERA_DTYPE_F32});
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  const int64_t want_w[4] = {-1, -1, 1, 1};
  node.expect_shape(w, want_w, "a 2-D weight [K, M]; the cuda plugin has no batched weights");
  const int64_t want_x[4] = {w.ne[0], -1, -1, -1};
  node.expect_shape(x, want_x, "ne[0] must equal src0 ne[0], the inner dimension K");
  const int64_t want_dst[4] = {w.ne[1], x.ne[1], x.ne[2], x.ne[3]};
  node.expect_shape(dst, want_dst, "[src0 ne[1], src1 ne[1], src1 ne[2], src1 ne[3]]");
  // GPTQ: one header-described blob (checked when resolved), no rows.
  const bool gptq = quant::gptq_bits_of(w.dtype) != 0;
  if (!gptq) node.expect_contiguous_rows(w);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(dst);
  node.expect_no_overlap(dst, w);
  node.expect_no_overlap(dst, x);
  // Everything the launch would refuse is refused here, before any node of
  // the graph runs: row strides that hold a row, sizes cuBLAS takes (int).
  const auto check_rows = [&](const Tensor& t, int64_t row_elements) {
    if (t.ne[1] > 1 && (t.nb[1] % sizeof(float) != 0 || t.nb[1] / sizeof(float) < static_cast<uint64_t>(row_elements)))
      node.fail(t.label + " has nb[1] = " + std::to_string(t.nb[1]) + ", expected a multiple of 4 of at least " +
                std::to_string(row_elements * 4) + " bytes (one row)");
    if (t.nb[1] / sizeof(float) > static_cast<uint64_t>(INT_MAX))
      node.fail(t.label + " has nb[1] = " + std::to_string(t.nb[1]) + ", more than the GEMM's int range");
  };
  check_rows(x, w.ne[0]);
  check_rows(dst, w.ne[1]);
  for (const int64_t v : {w.ne[0], w.ne[1], x.ne[1]})
    if (v > INT_MAX)
      node.fail("mul_mat sizes " + shape_text(w.ne) + " x " + shape_text(x.ne) +
                " exceed the GEMM's int range (2^31 - 1 per dimension)");
  // An empty product has nothing to launch (and an empty activation may
  // claim any batch count).
  if (dst.elements() == 0) return make(node, dst, [](cudaStream_t) { return cudaSuccess; });
  // One call per (ne[2], ne[3]) batch of activations: rows within a batch
  // are evenly strided, which is all MulMatArgs describes.
  std::vector<MulMatArgs> calls;
  for (int64_t i3 = 0; i3 < x.ne[3]; ++i3)
    for (int64_t i2 = 0; i2 < x.ne[2]; ++i2) {
      MulMatArgs a;
      a.weight_dtype = w.dtype;
      a.weight = w.data;
      a.k = w.ne[0];
      a.n_out = w.ne[1];
      a.weight_row_bytes = gptq ? 0 : w.nb[1];
      a.x = reinterpret_cast<const float*>(x.data + static_cast<uint64_t>(i2) * x.nb[2] + static_cast<uint64_t>(i3) * x.nb[3]);
      a.x_row_stride = static_cast<int64_t>(x.nb[1] / sizeof(float));
      a.n_rows = x.ne[1];
      a.y = reinterpret_cast<float*>(dst.data + static_cast<uint64_t>(i2) * dst.nb[2] + static_cast<uint64_t>(i3) * dst.nb[3]);
      a.y_row_stride = static_cast<int64_t>(dst.nb[1] / sizeof(float));
      calls.push_back(a);
    }
  cublasHandle_t cublas = backend.cublas;
  Workspace* scratch = backend.mul_mat_scratch.get();
  return make(node, dst, [calls = std::move(calls), cublas, scratch](cudaStream_t s) {
    for (const MulMatArgs& a : calls)
      if (a.n_rows > 0 && a.n_out > 0)
        if (cudaError_t e = mul_mat(a, s, cublas, *scratch); e != cudaSuccess) return e;
    return cudaSuccess;
  });
}

}  // namespace

std::span<const int32_t> supported_dtypes(int32_t op) {
  switch (op) {
    case TESSERA_OP_GET_ROWS: return kTables;
    case TESSERA_OP_MUL_MAT: return mul_mat_dtypes();
    case TESSERA_OP_COPY: return kF32F16;
    case TESSERA_OP_ATTENTION: return kKvTypes;
    case TESSERA_OP_RMS_NORM:
    case TESSERA_OP_MUL:
    case TESSERA_OP_ADD:
    case TESSERA_OP_ROPE:
    case TESSERA_OP_SOFTMAX:
    case TESSERA_OP_SILU:
    case TESSERA_OP_SWIGLU:
    case TESSERA_OP_SCALE: return kF32;
    default: return {};
  }
}

bool supports(int32_t op, int32_t src0_dtype) {
  const auto dtypes = supported_dtypes(op);
  return std::find(dtypes.begin(), dtypes.end(), src0_dtype) != dtypes.end();
}

PreparedNode prepare_node(const Node& node, tessera_backend& backend, const NodeDyn* dyn) {
  switch (node.op()) {
    case TESSERA_OP_NONE: return PreparedNode{node.where(), {}, {}};
    case TESSERA_OP_GET_ROWS: return get_rows(node, backend);
    case TESSERA_OP_RMS_NORM: return rms_norm(node);
    case TESSERA_OP_MUL: return binary(node, launch_mul);
    case TESSERA_OP_ADD: return binary(node, launch_add);
    case TESSERA_OP_MUL_MAT: return mul_mat_node(node, backend);
    case TESSERA_OP_ROPE: return rope(node);
    case TESSERA_OP_SOFTMAX: return softmax(node);
    case TESSERA_OP_SILU: return rowwise(node, false, launch_silu);
    case TESSERA_OP_SWIGLU: return rowwise(node, true, launch_swiglu);
    case TESSERA_OP_SCALE: return rowwise(node, false, launch_scale);
    case TESSERA_OP_COPY: return copy(node, dyn);
    case TESSERA_OP_ATTENTION: return attention(node, backend, dyn);
    default: break;
  }
  const char* name = tessera_op_name(node.op());
  throw sdk::Error(TESSERA_ERR_UNSUPPORTED, name != nullptr
                                                ? "cuda: " + node.where() + ": op '" + name + "' is not supported by the cuda plugin"
                                                : "cuda: graph node: op id " + std::to_string(node.op()) + " is unknown to the cuda plugin");
}

}  // namespace tessera::cuda
