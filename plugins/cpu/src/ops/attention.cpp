// ATTENTION: causal grouped-query attention of new queries over the KV cache
// (semantics in sdk/include/tessera/types.h). src0: Q F32 [D, H, T];
// src1, src2: K and V caches [D, Hkv, C] (F32/F16/Q8_0; Q8_0 needs D a multiple of 32); dst F32 [D, H, T].
// Scores and the weighted sum are accumulated in double: this is the
// reference path, and the softmax subtracts the row maximum first.
#include <cmath>
#include <string>
#include <vector>

#include "../convert.hpp"
#include "ops.hpp"

namespace tessera::cpu {

void op_attention(const Node& node, std::span<const int32_t> kv_dtypes, ThreadPool* pool, const Kernels&) {
  const Tensor q = node.src(0, {TESSERA_DTYPE_F32});
  const Tensor k = node.src(1, kv_dtypes);
  const Tensor v = node.src(2, kv_dtypes);
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  const int64_t d = q.ne[0], heads = q.ne[1], tokens = q.ne[2], kv_heads = k.ne[1], ctx = k.ne[2];
  const int64_t want_kv[4] = {d, -1, -1, 1};
  node.expect_shape(k, want_kv, "head_dim of src0, then KV heads and cache length");
  node.expect_same_shape(v, k);
  node.expect_same_shape(dst, q);
  if (q.ne[3] != 1) node.fail(q.label + " has shape " + shape_text(q.ne) + ", expected 3 dimensions");
  if (kv_heads < 1 || heads % kv_heads != 0)
    node.fail(k.label + " has " + std::to_string(kv_heads) + " KV heads, which must divide the " +
              std::to_string(heads) + " query heads");
  const int64_t first = node.i_param(0), valid = node.i_param(1);
  if (first < 0 || valid < first + tokens || valid > ctx)
    node.fail("i_params give first position " + std::to_string(first) + " and " + std::to_string(valid) +
              " valid cache positions; expected 0 <= first, first + " + std::to_string(tokens) +
              " tokens <= valid <= cache length " + std::to_string(ctx));
  for (const Tensor* t : {&q, &k, &v, &dst}) node.expect_contiguous_rows(*t);
  node.expect_no_overlap(dst, q);
  node.expect_no_overlap(dst, k);
  node.expect_no_overlap(dst, v);
  if (pool == nullptr) return;

  const float scale = node.f_param(0);
  const int64_t group = heads / kv_heads;
  pool->run(heads * tokens, [&](int64_t begin, int64_t end, int) {
    std::vector<float> key(static_cast<size_t>(d)), value(static_cast<size_t>(d));
    std::vector<double> scores(static_cast<size_t>(valid)), out(static_cast<size_t>(d));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t h = task % heads, t = task / heads, kvh = h / group;
      const auto* query = reinterpret_cast<const float*>(q.at(0, h, t, 0));
      const int64_t visible = first + t + 1;  // causal: positions 0 .. first + t
      double max_score = -INFINITY;
      for (int64_t p = 0; p < visible; ++p) {
        row_to_float(k.at(0, kvh, p, 0), k.dtype, key.data(), d);
        double dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(query[i]) * key[static_cast<size_t>(i)];
        scores[static_cast<size_t>(p)] = dot * scale;
        max_score = std::max(max_score, scores[static_cast<size_t>(p)]);
      }
      double total = 0;
      std::fill(out.begin(), out.end(), 0.0);
      for (int64_t p = 0; p < visible; ++p) {
        const double w = std::exp(scores[static_cast<size_t>(p)] - max_score);
        total += w;
        row_to_float(v.at(0, kvh, p, 0), v.dtype, value.data(), d);
        for (int64_t i = 0; i < d; ++i) out[static_cast<size_t>(i)] += w * value[static_cast<size_t>(i)];
      }
      auto* result = reinterpret_cast<float*>(dst.at(0, h, t, 0));
      for (int64_t i = 0; i < d; ++i) result[i] = static_cast<float>(out[static_cast<size_t>(i)] / total);
    }
  });
}

}  // namespace tessera::cpu
