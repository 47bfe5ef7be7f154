// The AVX-512 mul_mat driver, shared by the per-family translation units
// (include only from files compiled with the AVX-512 flags). Everything here
// has internal linkage, so no AVX-512 code can leak into portable callers.
//
// A weight type is a decoder D:
//   D::kValues, D::kBytes   values and bytes per block;
//   D::block(p, sink)       decodes one block, calling sink(off, lo, hi) with
//                           the 32 consecutive values at off..off+31 as two
//                           vectors, off ascending;
//   D::kTail, D::tail(p, m0, m1, sink)  (plain float types) a last partial
//                           block of 32, lanes outside masks m0 / m1 zero.
//
// Two kernels, both one task per group of kRowsPerTask weight rows (and
// activation batch), so the work of a dst element never depends on threads:
// - fused (N <= kFusedMaxN, decode and short prefill): each block is decoded
//   into registers and FMA'd straight into float accumulators for every
//   column; no float copy of the weights is written.
// - panel (N > kFusedMaxN, prefill): the task's rows are decoded once into a
//   per-thread float panel (L2-resident), then a 4 x 4 register-blocked
//   float micro-kernel runs over all N columns, so the decode cost is paid
//   once per row instead of once per column group.
#pragma once

#include "avx512_intrin.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "../thread_pool.hpp"
#include "matmul_job.hpp"

namespace tessera::cpu::avx512 {
namespace {

constexpr int kRowsPerTask = 4;
constexpr int64_t kFusedMaxN = 4;

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline uint16_t read_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

inline __m512 i8_to_ps(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)); }

// Masks of a partial block of 32: lanes 0..15 and 16..31 that are < n.
inline __mmask16 tail_mask(int64_t n, int half) {
  const int64_t lanes = n - 16 * half;
  if (lanes <= 0) return 0;
  return lanes >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1u);
}

inline float hsum(__m512 a) { return _mm512_reduce_add_ps(a); }

struct Geometry {
  const MatMulJob* job;
  int64_t row_groups;
  float* scratch;           // panel kernel: per-thread panels
  int64_t panel_stride;     // floats per panel row (k rounded up to 32)
  int64_t panel_floats;     // per thread
};

// Pointers of one task: its weight rows, the batch's activation columns and
// dst, resolved from the task index alone.
struct Task {
  int64_t m0, rows, c2, c3;
  const std::byte* w0;  // first row of the task
  uint64_t w_stride;
};

inline Task task_of(const Geometry& g, int64_t t) {
  const MatMulJob& j = *g.job;
  Task task{};
  const int64_t rg = t % g.row_groups, batch = t / g.row_groups;
  task.c2 = batch % j.c2;
  task.c3 = batch / j.c2;
  task.m0 = rg * kRowsPerTask;
  task.rows = j.m - task.m0 < kRowsPerTask ? j.m - task.m0 : kRowsPerTask;
  task.w0 = j.w + static_cast<uint64_t>(task.m0) * j.w_nb1 + static_cast<uint64_t>(task.c2 / j.r2) * j.w_nb2 +
            static_cast<uint64_t>(task.c3 / j.r3) * j.w_nb3;
  task.w_stride = j.w_nb1;
  return task;
}

inline const float* x_col(const MatMulJob& j, const Task& t, int64_t n) {
  return reinterpret_cast<const float*>(j.x + static_cast<uint64_t>(n) * j.x_nb1 +
                                        static_cast<uint64_t>(t.c2) * j.x_nb2 + static_cast<uint64_t>(t.c3) * j.x_nb3);
}

inline float* dst_at(const MatMulJob& j, const Task& t, int64_t m, int64_t n) {
  return reinterpret_cast<float*>(j.dst + static_cast<uint64_t>(m) * j.d_nb0 + static_cast<uint64_t>(n) * j.d_nb1 +
                                  static_cast<uint64_t>(t.c2) * j.d_nb2 + static_cast<uint64_t>(t.c3) * j.d_nb3);
}

// ---- fused: RR rows x RN columns, decoded blocks straight into FMAs --------
// The accumulator arrays only live in registers when the loops over them are
// fully unrolled; GCC at -O2 does not do that on its own (they spilled to the
// stack), hence the unroll pragmas.

template <class D, int RN, int RR>
inline void fused_rows(const std::byte* const* w, const float* const* x, int64_t k, float (&out)[RR][RN]) {
  __m512 acc[RR][RN][2];
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) acc[r][c][0] = acc[r][c][1] = _mm512_setzero_ps();
  const int64_t blocks = k / D::kValues;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t base = b * D::kValues;
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      D::block(w[r] + static_cast<uint64_t>(b) * D::kBytes, [&](int off, __m512 lo, __m512 hi) {
        #pragma GCC unroll 16
        for (int c = 0; c < RN; ++c) {
          acc[r][c][0] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x[c] + base + off), acc[r][c][0]);
          acc[r][c][1] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x[c] + base + off + 16), acc[r][c][1]);
        }
      });
  }
  if constexpr (D::kTail) {
    const int64_t base = blocks * D::kValues, rest = k - base;
    if (rest > 0) {
      const __mmask16 m0 = tail_mask(rest, 0), m1 = tail_mask(rest, 1);
      #pragma GCC unroll 16
      for (int r = 0; r < RR; ++r)
        D::tail(w[r] + static_cast<uint64_t>(blocks) * D::kBytes, m0, m1, [&](int, __m512 lo, __m512 hi) {
          #pragma GCC unroll 16
          for (int c = 0; c < RN; ++c) {
            acc[r][c][0] = _mm512_fmadd_ps(lo, _mm512_maskz_loadu_ps(m0, x[c] + base), acc[r][c][0]);
            acc[r][c][1] = _mm512_fmadd_ps(hi, _mm512_maskz_loadu_ps(m1, x[c] + base + 16), acc[r][c][1]);
          }
        });
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) out[r][c] = hsum(_mm512_add_ps(acc[r][c][0], acc[r][c][1]));
}

template <class D, int RN, int RR>
inline void fused_group(const MatMulJob& j, const Task& t, int64_t first, const float* const* x) {
  const std::byte* w[RR];
  for (int r = 0; r < RR; ++r) w[r] = t.w0 + static_cast<uint64_t>(first + r) * t.w_stride;
  float out[RR][RN];
  fused_rows<D, RN, RR>(w, x, j.k, out);
  for (int r = 0; r < RR; ++r)
    for (int c = 0; c < RN; ++c) *dst_at(j, t, t.m0 + first + r, c) = out[r][c];
}

// Rows in groups of RR (more independent accumulator chains), the rest one
// by one; each row's sum is the same sequence of FMAs either way.
template <class D, int RN, int RR>
inline void fused_task(const MatMulJob& j, const Task& t) {
  const float* x[RN];
  for (int c = 0; c < RN; ++c) x[c] = x_col(j, t, c);
  int64_t r = 0;
  for (; r + RR <= t.rows; r += RR) fused_group<D, RN, RR>(j, t, r, x);
  for (; r < t.rows; ++r) fused_group<D, RN, 1>(j, t, r, x);
}

template <class D>
void fused_range(void* user, int64_t begin, int64_t end, int) {
  const Geometry& g = *static_cast<const Geometry*>(user);
  const MatMulJob& j = *g.job;
  for (int64_t i = begin; i < end; ++i) {
    const Task t = task_of(g, i);
    switch (j.n) {
      case 1: fused_task<D, 1, 4>(j, t); break;
      case 2: fused_task<D, 2, 2>(j, t); break;
      case 3: fused_task<D, 3, 1>(j, t); break;
      default: fused_task<D, 4, 1>(j, t); break;
    }
  }
}

// ---- panel: decode rows to floats once, then a float micro-kernel ----------

template <class D>
inline void decode_row(const std::byte* w, int64_t k, float* out) {
  const int64_t blocks = k / D::kValues;
  for (int64_t b = 0; b < blocks; ++b) {
    float* o = out + b * D::kValues;
    D::block(w + static_cast<uint64_t>(b) * D::kBytes, [&](int off, __m512 lo, __m512 hi) {
      _mm512_store_ps(o + off, lo);
      _mm512_store_ps(o + off + 16, hi);
    });
  }
  if constexpr (D::kTail) {
    const int64_t base = blocks * D::kValues, rest = k - base;
    if (rest > 0)
      D::tail(w + static_cast<uint64_t>(blocks) * D::kBytes, tail_mask(rest, 0), tail_mask(rest, 1),
              [&](int, __m512 lo, __m512 hi) {
                _mm512_store_ps(out + base, lo);  // zero past k: the panel is padded to 32
                _mm512_store_ps(out + base + 16, hi);
              });
  }
}

// dst[4 rows x RN columns] of one column group; the panel rows are padded
// with zeros past k, the activations are read with a mask there.
template <int RN>
inline void panel_tile(const float* panel, int64_t stride, const float* const* x, int64_t k, float (&out)[4][RN]) {
  __m512 acc[4][RN];
  #pragma GCC unroll 16
  for (int r = 0; r < 4; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 wv[4];
    #pragma GCC unroll 16
    for (int r = 0; r < 4; ++r) wv[r] = _mm512_load_ps(panel + r * stride + i);
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) {
      const __m512 xv = _mm512_loadu_ps(x[c] + i);
      #pragma GCC unroll 16
      for (int r = 0; r < 4; ++r) acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
    }
  }
  if (i < k) {
    const __mmask16 m = tail_mask(k - i, 0);
    __m512 wv[4];
    #pragma GCC unroll 16
    for (int r = 0; r < 4; ++r) wv[r] = _mm512_load_ps(panel + r * stride + i);
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x[c] + i);
      #pragma GCC unroll 16
      for (int r = 0; r < 4; ++r) acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < 4; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) out[r][c] = hsum(acc[r][c]);
}

template <int RN>
inline void panel_columns(const MatMulJob& j, const Task& t, const float* panel, int64_t stride, int64_t n0) {
  const float* x[RN];
  for (int c = 0; c < RN; ++c) x[c] = x_col(j, t, n0 + c);
  float out[4][RN];
  panel_tile<RN>(panel, stride, x, j.k, out);
  for (int r = 0; r < t.rows; ++r)
    for (int c = 0; c < RN; ++c) *dst_at(j, t, t.m0 + r, n0 + c) = out[r][c];
}

template <class D>
void panel_range(void* user, int64_t begin, int64_t end, int thread) {
  const Geometry& g = *static_cast<const Geometry*>(user);
  const MatMulJob& j = *g.job;
  float* panel = g.scratch + static_cast<int64_t>(thread) * g.panel_floats;
  for (int64_t i = begin; i < end; ++i) {
    const Task t = task_of(g, i);
    for (int r = 0; r < kRowsPerTask; ++r) {
      float* row = panel + r * g.panel_stride;
      if (r < t.rows)
        decode_row<D>(t.w0 + static_cast<uint64_t>(r) * t.w_stride, j.k, row);
      else
        std::memset(row, 0, static_cast<size_t>(g.panel_stride) * sizeof(float));
    }
    int64_t n = 0;
    for (; n + 4 <= j.n; n += 4) panel_columns<4>(j, t, panel, g.panel_stride, n);
    switch (j.n - n) {
      case 1: panel_columns<1>(j, t, panel, g.panel_stride, n); break;
      case 2: panel_columns<2>(j, t, panel, g.panel_stride, n); break;
      case 3: panel_columns<3>(j, t, panel, g.panel_stride, n); break;
      default: break;
    }
  }
}

inline Geometry geometry_of(const MatMulJob& j) {
  Geometry g{};
  g.job = &j;
  g.row_groups = (j.m + kRowsPerTask - 1) / kRowsPerTask;
  g.panel_stride = (j.k + 31) / 32 * 32;
  g.panel_floats = g.panel_stride * kRowsPerTask;
  return g;
}

// The whole job: fused for few columns, panel otherwise.
template <class D>
void run(const MatMulJob& j, ThreadPool& pool) {
  Geometry g = geometry_of(j);
  const int64_t tasks = g.row_groups * j.c2 * j.c3;
  if (tasks == 0 || j.n == 0) return;
  if (j.n <= kFusedMaxN) {
    pool.parallel_for(tasks, fused_range<D>, &g);
    return;
  }
  // Per-thread panels, 64-byte aligned. Raw operator new: no library
  // template is instantiated in this AVX-512 translation unit.
  const size_t bytes = static_cast<size_t>(g.panel_floats) * sizeof(float) * static_cast<size_t>(pool.size());
  void* mem = ::operator new(bytes, std::align_val_t{64});
  g.scratch = static_cast<float*>(mem);
  pool.parallel_for(tasks, panel_range<D>, &g);
  ::operator delete(mem, std::align_val_t{64});
}

}  // namespace
}  // namespace tessera::cpu::avx512
