// AVX-512 mul_mat for BF16 weights with vdpbf16ps (AVX512_BF16; this file
// alone is compiled with -mavx512bf16).
//
// vdpbf16ps multiplies bf16 by bf16, so the F32 activations are first split
// into three bf16 terms x = x0 + x1 + x2 (each the bf16 rounding of what is
// left), which keeps about 24 significant bits: the result matches the float
// path to float rounding, at three dot instructions per 32 weights instead of
// widening, shifting and two FMAs. Used for the fused (few columns) case with
// k a multiple of 32; prefill and ragged rows take the float-decode kernel.
#include "avx512_intrin.hpp"

#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "decode_avx512_float.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

constexpr int kTerms = 3;

struct SplitGeometry {
  Geometry g;
  uint16_t* split;  // [c3][c2][n][kTerms][k] bf16
};

inline uint16_t* split_of(const SplitGeometry& s, const Task& t, int64_t col) {
  const MatMulJob& j = *s.g.job;
  const int64_t index = (t.c3 * j.c2 + t.c2) * j.n + col;
  return s.split + index * kTerms * j.k;
}

inline void split_column(const float* x, int64_t k, uint16_t* out) {
  for (int64_t i = 0; i < k; i += 16) {
    __m512 rest = _mm512_loadu_ps(x + i);
    for (int s = 0; s < kTerms; ++s) {
      const __m256bh h = _mm512_cvtneps_pbh(rest);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + s * k + i), (__m256i)h);
      rest = _mm512_sub_ps(rest, bf16_to_ps((__m256i)h));  // exact: the rounding error of h
    }
  }
}

void split_range(void* user, int64_t begin, int64_t end, int) {
  const SplitGeometry& s = *static_cast<const SplitGeometry*>(user);
  const MatMulJob& j = *s.g.job;
  for (int64_t i = begin; i < end; ++i) {  // i: (batch, column)
    const int64_t col = i % j.n, batch = i / j.n;
    Task t{};
    t.c2 = batch % j.c2;
    t.c3 = batch / j.c2;
    split_column(x_col(j, t, col), j.k, split_of(s, t, col));
  }
}

template <int RN>
inline void dot_task(const SplitGeometry& s, const Task& t) {
  const MatMulJob& j = *s.g.job;
  const uint16_t* x[RN];
  for (int c = 0; c < RN; ++c) x[c] = split_of(s, t, c);
  for (int64_t r = 0; r < t.rows; ++r) {
    const auto* w = reinterpret_cast<const uint16_t*>(t.w0 + static_cast<uint64_t>(r) * t.w_stride);
    __m512 acc[RN][kTerms];
    for (int c = 0; c < RN; ++c)
      for (int e = 0; e < kTerms; ++e) acc[c][e] = _mm512_setzero_ps();
    for (int64_t i = 0; i < j.k; i += 32) {
      const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + i);
      for (int c = 0; c < RN; ++c)
        for (int e = 0; e < kTerms; ++e)
          acc[c][e] = _mm512_dpbf16_ps(acc[c][e], wv, (__m512bh)_mm512_loadu_si512(x[c] + e * j.k + i));
    }
    for (int c = 0; c < RN; ++c)
      *dst_at(j, t, t.m0 + r, c) = hsum(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][1]), acc[c][2]));
  }
}

void dot_range(void* user, int64_t begin, int64_t end, int) {
  const SplitGeometry& s = *static_cast<const SplitGeometry*>(user);
  for (int64_t i = begin; i < end; ++i) {
    const Task t = task_of(s.g, i);
    switch (s.g.job->n) {
      case 1: dot_task<1>(s, t); break;
      case 2: dot_task<2>(s, t); break;
      case 3: dot_task<3>(s, t); break;
      default: dot_task<4>(s, t); break;
    }
  }
}

void run_bf16_dot(const MatMulJob& j, ThreadPool& pool) {
  if (j.n > kFusedMaxN || j.k % 32 != 0 || j.k == 0) {
    run<DecodeBF16>(j, pool);
    return;
  }
  SplitGeometry s{geometry_of(j), nullptr};
  const int64_t tasks = s.g.row_groups * j.c2 * j.c3;
  if (tasks == 0) return;
  const size_t count = static_cast<size_t>(j.c2 * j.c3 * j.n * kTerms * j.k);
  void* mem = ::operator new(count * sizeof(uint16_t), std::align_val_t{64});
  s.split = static_cast<uint16_t*>(mem);
  pool.parallel_for(j.c2 * j.c3 * j.n, split_range, &s);
  pool.parallel_for(tasks, dot_range, &s);
  ::operator delete(mem, std::align_val_t{64});
}

}  // namespace

MatMulFn bf16_dot_kernel() { return run_bf16_dot; }

}  // namespace tessera::cpu::avx512
