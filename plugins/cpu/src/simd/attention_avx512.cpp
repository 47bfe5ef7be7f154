// AVX-512 ATTENTION over F32 / F16 / Q8_0 KV caches (the reference in
// ops/attention.cpp sums in double; this one in float, vectorized over the
// head dims). One task per (query token, head), as the reference:
//  - scores: four keys at a time (four independent FMA chains), each key's
//    D values 16 per vector (a masked last vector when D % 16 != 0);
//  - softmax: the row maximum subtracted, exp by exp16 below, 16 at a time;
//  - output: sum_p w_p v_p in D / 16 vector accumulators, divided by the sum
//    of the weights at the end.
// The head-dim vectors are template-unrolled (NC = ceil(D / 16) <= 16) so q
// and the accumulators stay in registers. Results do not depend on the
// thread count (one task computes each output row).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>

#include "../thread_pool.hpp"
#include "attention_job.hpp"
#include "avx512_intrin.hpp"
#include "avx512_kernels.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

#define TESSERA_UNROLL _Pragma("GCC unroll 16")

constexpr int kMaxChunks = 16;  // head_dim up to 256 in registers; larger runs the reference

// e^x for x <= 0 (scores minus their maximum), 16 at a time: x = n ln2 + r,
// |r| <= ln2 / 2, e^r by its degree-7 Taylor polynomial (truncation below
// 2e-8 relative), then scaled by 2^n with vscalefps, which flushes to 0 far
// below the float range instead of wrapping.
inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // e^-104 is below the smallest float
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2, high part (exact product)
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);      // ln2, low part
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

enum class Cache { f32, f16, q8_0 };

// 16 values of a cache row from element 16c (masked lanes read as 0). Q8_0
// rows are blocks of a half scale d and 32 int8 codes (D a multiple of 32,
// so never masked): d * q, the reference dequantizer's float product.
template <Cache KV>
inline __m512 load_row16(const std::byte* row, int c, __mmask16 m) {
  if constexpr (KV == Cache::f16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + 16 * c));
  } else if constexpr (KV == Cache::f32) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + 16 * c);
  } else {
    const std::byte* block = row + (c / 2) * 34;
    uint16_t d;
    __builtin_memcpy(&d, block, 2);
    const __m512 codes = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2 + (c % 2) * 16))));
    return _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(d)), codes);
  }
}

struct Task {
  const AttentionJob* job;
  float* scratch;  // per thread: cache_len weights
  int64_t scratch_per_thread;
};

template <Cache KV, int NC>
void attend(const AttentionJob& j, int64_t h, int64_t t, float* w) {
  const int64_t D = j.head_dim, kvh = h / (j.heads / j.kv_heads);
  int64_t visible = j.first + t + 1;
  if (visible > j.cache_len) visible = j.cache_len;  // validated by the op; never read past the cache
  const __mmask16 tail = D % 16 == 0 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (D % 16)) - 1u);
  const auto mask = [&](int c) { return c == NC - 1 ? tail : static_cast<__mmask16>(0xFFFF); };
  const auto* q = reinterpret_cast<const float*>(j.q + static_cast<uint64_t>(h) * j.q_nb1 + static_cast<uint64_t>(t) * j.q_nb2);
  __m512 qv[NC];
  TESSERA_UNROLL
  for (int c = 0; c < NC; ++c) qv[c] = _mm512_maskz_loadu_ps(mask(c), q + 16 * c);
  const std::byte* k0 = j.k + static_cast<uint64_t>(kvh) * j.k_nb1;
  const std::byte* v0 = j.v + static_cast<uint64_t>(kvh) * j.v_nb1;

  // Scores, four keys at a time, and their maximum.
  float max_score = -INFINITY;
  int64_t p = 0;
  for (; p + 4 <= visible; p += 4) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    TESSERA_UNROLL
    for (int c = 0; c < NC; ++c) {
      TESSERA_UNROLL
      for (int i = 0; i < 4; ++i)
        acc[i] = _mm512_fmadd_ps(qv[c], load_row16<KV>(k0 + static_cast<uint64_t>(p + i) * j.k_nb2, c, mask(c)), acc[i]);
    }
    TESSERA_UNROLL
    for (int i = 0; i < 4; ++i) {
      w[p + i] = _mm512_reduce_add_ps(acc[i]) * j.scale;
      max_score = w[p + i] > max_score ? w[p + i] : max_score;
    }
  }
  for (; p < visible; ++p) {
    __m512 acc = _mm512_setzero_ps();
    TESSERA_UNROLL
    for (int c = 0; c < NC; ++c)
      acc = _mm512_fmadd_ps(qv[c], load_row16<KV>(k0 + static_cast<uint64_t>(p) * j.k_nb2, c, mask(c)), acc);
    w[p] = _mm512_reduce_add_ps(acc) * j.scale;
    max_score = w[p] > max_score ? w[p] : max_score;
  }

  // Weights e^(score - max) and their sum.
  const __m512 vmax = _mm512_set1_ps(max_score);
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t p0 = 0; p0 < visible; p0 += 16) {
    const __mmask16 m = visible - p0 >= 16 ? static_cast<__mmask16>(0xFFFF)
                                           : static_cast<__mmask16>((1u << (visible - p0)) - 1u);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, w + p0), vmax));
    _mm512_mask_storeu_ps(w + p0, m, e);
    vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(m, e));
  }
  const float inv = 1.0f / _mm512_reduce_add_ps(vsum);

  // sum_p w_p v_p, then normalized.
  __m512 out[NC];
  TESSERA_UNROLL
  for (int c = 0; c < NC; ++c) out[c] = _mm512_setzero_ps();
  for (p = 0; p < visible; ++p) {
    const __m512 wp = _mm512_set1_ps(w[p]);
    const std::byte* row = v0 + static_cast<uint64_t>(p) * j.v_nb2;
    TESSERA_UNROLL
    for (int c = 0; c < NC; ++c) out[c] = _mm512_fmadd_ps(wp, load_row16<KV>(row, c, mask(c)), out[c]);
  }
  auto* result = reinterpret_cast<float*>(j.dst + static_cast<uint64_t>(h) * j.d_nb1 + static_cast<uint64_t>(t) * j.d_nb2);
  const __m512 vinv = _mm512_set1_ps(inv);
  TESSERA_UNROLL
  for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(result + 16 * c, mask(c), _mm512_mul_ps(out[c], vinv));
}

template <Cache KV, int NC>
void attend_range(void* user, int64_t begin, int64_t end, int thread) {
  const Task& task = *static_cast<const Task*>(user);
  const AttentionJob& j = *task.job;
  float* w = task.scratch + static_cast<int64_t>(thread) * task.scratch_per_thread;
  for (int64_t i = begin; i < end; ++i) attend<KV, NC>(j, i % j.heads, i / j.heads, w);
}

template <Cache KV, int NC>
void run(const AttentionJob& j, ThreadPool& pool) {
  if (j.heads == 0 || j.tokens == 0 || j.cache_len == 0) return;
  Task task{&j, nullptr, (j.cache_len + 15) / 16 * 16};
  const size_t floats = static_cast<size_t>(task.scratch_per_thread) * static_cast<size_t>(pool.size());
  task.scratch = static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t{64}));
  pool.parallel_for(j.heads * j.tokens, attend_range<KV, NC>, &task);
  ::operator delete(task.scratch, std::align_val_t{64});
}

template <Cache KV, int NC = 1>
AttentionFn pick(int64_t chunks) {
  if constexpr (NC > kMaxChunks) {
    return nullptr;
  } else {
    return chunks == NC ? run<KV, NC> : pick<KV, NC + 1>(chunks);
  }
}

}  // namespace

AttentionFn attention_kernel(int32_t kv_dtype, int64_t head_dim) {
  const int64_t chunks = (head_dim + 15) / 16;
  if (head_dim < 1 || chunks > kMaxChunks) return nullptr;
  if (kv_dtype == TESSERA_DTYPE_F16) return pick<Cache::f16>(chunks);
  if (kv_dtype == TESSERA_DTYPE_F32) return pick<Cache::f32>(chunks);
  if (kv_dtype == TESSERA_DTYPE_Q8_0 && head_dim % 32 == 0) return pick<Cache::q8_0>(chunks);
  return nullptr;
}

}  // namespace tessera::cpu::avx512
