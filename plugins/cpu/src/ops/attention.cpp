// ATTENTION: causal grouped-query attention of new queries over the KV cache
// (semantics in sdk/include/tessera/types.h). src0: Q F32 [D, H, T];
// src1, src2: K and V caches [D, Hkv, C] (F32/F16/Q8_0; Q8_0 needs D a multiple of 32); dst F32 [D, H, T].
// Scores and the weighted sum are accumulated in double: this is the
// reference path (`kernels: scalar`), and the softmax subtracts the row
// maximum first. The other kernel choices run simd/attention_avx512.cpp
// for F32 / F16 / Q8_0 caches (float sums, same definition).
#include <cmath>
#include <string>
#include <vector>

#include "../convert.hpp"
#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {

void op_attention(const Node& node, std::span<const int32_t> kv_dtypes, ThreadPool* pool, const Kernels& kernels) {
  auto checked = sdk::check_attention_shapes(node, kv_dtypes);
  sdk::check_attention_heads(node, checked);
  sdk::check_attention_window(node, checked);
  const Tensor &q = checked.q, &k = checked.k, &v = checked.v, &dst = checked.dst;
  const int64_t first = checked.first, valid = checked.valid;
  const int64_t d = q.ne[0], heads = q.ne[1], tokens = q.ne[2], kv_heads = k.ne[1];
  if (pool == nullptr) return;

  const float scale = node.f_param(0);
  // The AVX-512 kernel (F32 / F16 / Q8_0 caches, K and V of one type; rows
  // are contiguous, as check_attention_window requires).
  if (k.dtype == v.dtype)
    if (AttentionFn fast = attention_kernel(kernels, k.dtype, d)) {
      AttentionJob job;
      job.head_dim = d;
      job.heads = heads;
      job.kv_heads = kv_heads;
      job.tokens = tokens;
      job.first = first;
      job.cache_len = valid;
      job.scale = scale;
      job.q = q.data;
      job.q_nb1 = q.nb[1];
      job.q_nb2 = q.nb[2];
      job.k = k.data;
      job.k_nb1 = k.nb[1];
      job.k_nb2 = k.nb[2];
      job.v = v.data;
      job.v_nb1 = v.nb[1];
      job.v_nb2 = v.nb[2];
      job.dst = dst.data;
      job.d_nb1 = dst.nb[1];
      job.d_nb2 = dst.nb[2];
      fast(job, *pool);
      return;
    }
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
