#include "ops.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <vector>

#include "backend.hpp"
#include "kernels/mul_mat/mul_mat.cuh"
#include "tessera/quant/gptq.hpp"

namespace tessera::cuda {
namespace {

constexpr std::array<int32_t, 1> kF32 = {TESSERA_DTYPE_F32};
constexpr std::array<int32_t, 2> kF32F16 = {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16};
constexpr std::array<int32_t, 3> kKvTypes = {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0};
// get_rows: every type the SDK's reference dequantizer reads (its block
// functions run on the device unchanged).
constexpr std::array<int32_t, 16> kTables = {
    TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1,
    TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K,
    TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL,
    TESSERA_DTYPE_IQ4_XS};
// mul_mat: whatever the mul_mat kernels say they take.
constexpr std::array<int32_t, 19> kWeightCandidates = {
    TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16,      TESSERA_DTYPE_Q4_0,      TESSERA_DTYPE_Q4_1,
    TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0,      TESSERA_DTYPE_Q2_K,      TESSERA_DTYPE_Q3_K,
    TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K,      TESSERA_DTYPE_Q8_K,      TESSERA_DTYPE_IQ4_NL,
    TESSERA_DTYPE_IQ4_XS, TESSERA_DTYPE_GPTQ_4BIT, TESSERA_DTYPE_GPTQ_8BIT, TESSERA_DTYPE_GPTQ_3BIT};

const std::vector<int32_t>& mul_mat_dtypes() {
  static const std::vector<int32_t> dtypes = [] {
    std::vector<int32_t> out;
    for (int32_t d : kWeightCandidates)
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
  const Tensor table = node.src(0, kTables);
  const Tensor ids = node.src(1, {TESSERA_DTYPE_I32});
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  const int64_t want_table[4] = {-1, -1, 1, 1};
  node.expect_shape(table, want_table, "a 2-D table of rows");
  const int64_t want_ids[4] = {-1, -1, -1, 1};
  node.expect_shape(ids, want_ids, "row ids in at most 3 dimensions");
  const int64_t want_dst[4] = {table.ne[0], ids.ne[0], ids.ne[1], ids.ne[2]};
  node.expect_shape(dst, want_dst, "ne[0] of src0, then the shape of src1");
  node.expect_contiguous_rows(table);
  node.expect_contiguous_rows(dst);
  node.expect_no_overlap(dst, table);
  node.expect_no_overlap(dst, ids);
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
  const Tensor x = node.src(0, kF32);
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_same_shape(dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(dst);
  const float eps = node.f_param(0);
  if (!std::isfinite(eps) || eps < 0)
    node.fail("f_params[0] (epsilon) is " + std::to_string(eps) + ", expected a finite value >= 0");
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
  const Tensor x = node.src(0, kF32);
  const Tensor y = node.src(1, {TESSERA_DTYPE_F32});
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_broadcastable(y, x);
  node.expect_same_shape(dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(y);
  node.expect_contiguous_rows(dst);
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
  const Tensor x = node.src(0, kF32);
  UnaryArgs a;
  if (two_inputs) {
    const Tensor y = node.src(1, {TESSERA_DTYPE_F32});
    node.expect_same_shape(y, x);
    node.expect_contiguous_rows(y);
    a.y = y.data;
    a.y_rows = y.row_layout();
  }
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_same_shape(dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(dst);
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
  const Tensor x = node.src(0, kF32);
  const Tensor pos = node.src(1, {TESSERA_DTYPE_I32});
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_same_shape(dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(dst);
  node.expect_contiguous_rows(pos);
  const int64_t tokens = x.ne[2] * x.ne[3];
  const int64_t want_pos[4] = {pos.ne[0], 1, 1, 1};
  node.expect_shape(pos, want_pos, "a 1-D list of positions");
  const bool per_row = pos.ne[0] == x.rows() && pos.ne[0] != tokens;
  if (pos.ne[0] != tokens && !per_row)
    node.fail(pos.label + " has " + std::to_string(pos.ne[0]) + " positions, expected one per token (" +
              std::to_string(tokens) + " = src0 ne[2] * ne[3]) or one per row (" + std::to_string(x.rows()) + ")");
  const int32_t n_rot = node.i_param(0);
  if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > x.ne[0])
    node.fail("i_params[0] (n_rot) is " + std::to_string(n_rot) + ", expected an even number in [2, " +
              std::to_string(x.ne[0]) + "] (src0 ne[0])");
  const float base = node.f_param(0), scale = node.f_param(1);
  if (!std::isfinite(base) || base <= 0)
    node.fail("f_params[0] (freq_base) is " + std::to_string(base) + ", expected a finite value > 0");
  if (!std::isfinite(scale) || scale <= 0)
    node.fail("f_params[1] (freq_scale) is " + std::to_string(scale) + ", expected a finite value > 0");
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
  const Tensor x = node.src(0, kF32);
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_same_shape(dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(dst);
  SoftmaxArgs a;
  if (node.has_src(1)) {
    const Tensor mask = node.src(1, {TESSERA_DTYPE_F32});
    const int64_t want[4] = {x.ne[0], -1, -1, -1};
    node.expect_shape(mask, want, "the mask's ne[0] must equal src0 ne[0]");
    node.expect_broadcastable(mask, x);
    node.expect_contiguous_rows(mask);
    a.mask = mask.data;
    for (int i = 0; i < 4; ++i) {
      a.mask_ne[i] = std::max<int64_t>(mask.ne[i], 1);
      a.mask_nb[i] = mask.nb[i];
    }
  }
  const float scale = node.f_param(0);
  if (!std::isfinite(scale)) node.fail("f_params[0] (scale) is " + std::to_string(scale) + ", expected a finite value");
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
  const Tensor src = node.src(0, kF32F16);
  const Tensor dst = node.dst({TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0});
  if (dst.elements() != src.elements())
    node.fail(dst.label + " has shape " + shape_text(dst.ne) + " (" + std::to_string(dst.elements()) +
              " elements), expected as many elements as src0 " + shape_text(src.ne) + " (" +
              std::to_string(src.elements()) + ")");
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
  const Tensor q = node.src(0, {TESSERA_DTYPE_F32});
  const Tensor k = node.src(1, kKvTypes);
  const Tensor v = node.src(2, kKvTypes);
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  const int64_t d = q.ne[0], heads = q.ne[1], tokens = q.ne[2], kv_heads = k.ne[1], ctx = k.ne[2];
  const int64_t want_kv[4] = {d, -1, -1, 1};
  node.expect_shape(k, want_kv, "head_dim of src0, then KV heads and cache length");
  node.expect_same_shape(v, k);
  node.expect_same_shape(dst, q);
  if (v.dtype != k.dtype) node.fail(v.label + " has dtype " + dtype_text(v.dtype) + ", expected " + dtype_text(k.dtype) + " like src1");
  if (q.ne[3] != 1) node.fail(q.label + " has shape " + shape_text(q.ne) + ", expected 3 dimensions");
  if (kv_heads < 1 || heads % kv_heads != 0)
    node.fail(k.label + " has " + std::to_string(kv_heads) + " KV heads, which must divide the " +
              std::to_string(heads) + " query heads");
  if (d < 1 || d > kMaxHeadDim)
    node.fail(q.label + " has head_dim " + std::to_string(d) + "; the cuda attention kernels take 1 to " +
              std::to_string(kMaxHeadDim));
  if (heads > 65535) node.fail(q.label + " has " + std::to_string(heads) + " heads, more than 65535");
  const int64_t first = node.i_param(0), valid = node.i_param(1);
  if (first < 0 || valid < first + tokens || valid > ctx)
    node.fail("i_params give first position " + std::to_string(first) + " and " + std::to_string(valid) +
              " valid cache positions; expected 0 <= first, first + " + std::to_string(tokens) +
              " tokens <= valid <= cache length " + std::to_string(ctx));
  for (const Tensor* t : {&q, &k, &v, &dst}) node.expect_contiguous_rows(*t);
  node.expect_no_overlap(dst, q);
  node.expect_no_overlap(dst, k);
  node.expect_no_overlap(dst, v);
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
