// AVX-512 mul_mat for GPTQ weights (tessera/gptq.h), reading the packed
// codes directly. A zmm holds 16 consecutive output columns: one qweight
// row of 16 words carries 32 / bits input rows of those columns, peeled off
// by shift and mask. Every dst element is summed in an order fixed by the
// shape alone (results do not depend on the thread count).
//
// - fused (at most 4 activation rows, decode): per run of rows within a
//   group, sum(q * x) and sum(x) are accumulated and folded in as
//   scale * (sum_qx - zero * sum_x), so scale and zero stay out of the inner
//   loop. The activations are gathered once into x[perm[k]] order. Tasks
//   split the input rows (see below), partial sums are added in task order.
// - panel (more rows, prefill): a chunk of 32 columns is dequantized once to
//   floats, exactly as the reference does, into a per-thread panel whose
//   rows are scattered back to the original input order (no gather of the
//   activations), then a register-blocked float kernel runs over all rows.
// - int8 (`kernels: vnni`, and `auto` on VNNI CPUs): the activations are
//   quantized to int8 blocks of 32 rows and multiplied with the 4- or 8-bit
//   codes by vpdpbusd, in a mat-vec for at most 4 activation rows (each
//   qweight word as it is, see "int8 mat-vec") and a panel for more (see
//   "int8 prefill panel"). These functions carry the avx512vnni target
//   attribute; nothing else in this file may use VNNI instructions.
//
// The header is read here with memcpy rather than through the SDK's inline
// helpers: no inline function shared with portable code may be compiled in
// this AVX-512 translation unit (the linker could keep this copy).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "../thread_pool.hpp"
#include "avx512_intrin.hpp"
#include "avx512_kernels.hpp"
#include "matmul_job.hpp"
#include "tessera/gptq.h"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

constexpr int64_t kFusedMaxRows = 4;

// The register-array loops (over RN rows, CZ vectors, the codes of a word)
// must be unrolled, or GCC -O2 keeps the "registers" on the stack.
#define TESSERA_UNROLL _Pragma("GCC unroll 16")

struct Gptq {
  const MatMulJob* job;
  int64_t k, n_out, group_size, n_groups;
  const uint32_t* qweight;
  const uint16_t* scales;
  const uint8_t* zeros;
  const int32_t* perm;
  int64_t rows;              // activation rows: job n * c2 * c3
  float* xp = nullptr;       // fused: [rows][k], x[perm[k]]
  float* scratch = nullptr;  // fused: partial sums per task; panel: per-thread [k][32]
  int64_t panel_floats = 0;
  // int8 mat-vec, per activation row (see "int8 mat-vec" below)
  int32_t* x8 = nullptr;     // [rows][k / 4]
  float* x8_d = nullptr;     // [rows][k / 32]
  float* x8_dsum = nullptr;  // [rows][k / 32]
};

Gptq gptq_of(const MatMulJob& j) {
  tessera_gptq_header h;
  std::memcpy(&h, j.w, sizeof h);
  Gptq g{};
  g.job = &j;
  g.k = static_cast<int64_t>(h.in_features);
  g.n_out = static_cast<int64_t>(h.out_features);
  g.group_size = h.group_size;
  g.n_groups = h.n_groups;
  g.qweight = reinterpret_cast<const uint32_t*>(j.w + h.qweight_offset);
  g.scales = reinterpret_cast<const uint16_t*>(j.w + h.scales_offset);
  g.zeros = reinterpret_cast<const uint8_t*>(j.w + h.zeros_offset);
  g.perm = reinterpret_cast<const int32_t*>(j.w + h.perm_offset);
  g.rows = j.n * j.c2 * j.c3;
  return g;
}

// Activation row r = (column n, batch c2, c3) of the job.
const float* x_row(const MatMulJob& j, int64_t r) {
  const int64_t n = r % j.n, b = r / j.n;
  return reinterpret_cast<const float*>(j.x + static_cast<uint64_t>(n) * j.x_nb1 +
                                        static_cast<uint64_t>(b % j.c2) * j.x_nb2 +
                                        static_cast<uint64_t>(b / j.c2) * j.x_nb3);
}

// Stores `count` results of output columns m0.. for activation row r.
void store_row(const MatMulJob& j, int64_t r, int64_t m0, const float* v, int64_t count) {
  const int64_t n = r % j.n, b = r / j.n;
  std::byte* base = j.dst + static_cast<uint64_t>(n) * j.d_nb1 + static_cast<uint64_t>(b % j.c2) * j.d_nb2 +
                    static_cast<uint64_t>(b / j.c2) * j.d_nb3;
  for (int64_t i = 0; i < count; ++i) *reinterpret_cast<float*>(base + static_cast<uint64_t>(m0 + i) * j.d_nb0) = v[i];
}

// Lanes of the 16-column vector at column c0 that are < n_out.
__mmask16 column_mask(int64_t c0, int64_t n_out) {
  const int64_t lanes = n_out - c0;
  if (lanes <= 0) return 0;
  return lanes >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1u);
}

__m512 load_scales(const Gptq& g, int64_t group, int64_t c0, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, g.scales + group * g.n_out + c0));
}

__m512 load_zeros(const Gptq& g, int64_t group, int64_t c0, __mmask16 m) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, g.zeros + group * g.n_out + c0)));
}

// ---- fused: RN activation rows x CZ vectors of 16 columns ------------------
//
// Tasks split the input rows (kTaskRows each), and the columns only into
// long strips: a task walks wide rows, so its qweight reads are a few
// sequential streams instead of one 64-column strip with a stride of N
// words (a page per read). Each row block leaves a partial sum per output
// in its own slice of `partial`; the slices are then added in order, so the
// result does not depend on the thread count. The fold is linear, so a group may span tasks: each
// segment (<= kSegmentRows rows, never crossing a group) is folded with the
// sum of x over the segment itself.

constexpr int64_t kTaskRows = 256;    // input rows per task, a multiple of 32
constexpr int64_t kSegmentRows = 64;  // rows whose codes are summed before a fold
// Few row blocks (small K): the columns are split too, into strips of at
// least kMinStrip columns (still long sequential reads), for >= kMinTasks
// tasks. Both depend on the shape only, never on the thread count.
constexpr int64_t kMinTasks = 16, kMinStrip = 512;

struct FusedSplit {
  int64_t row_blocks, strips, strip_cols;
};

FusedSplit fused_split(const Gptq& g) {
  FusedSplit s{};
  s.row_blocks = (g.k + kTaskRows - 1) / kTaskRows;
  const int64_t want = (kMinTasks + s.row_blocks - 1) / s.row_blocks;
  const int64_t most = g.n_out / kMinStrip > 1 ? g.n_out / kMinStrip : 1;
  s.strips = want < most ? want : most;
  s.strip_cols = ((g.n_out + s.strips - 1) / s.strips + 63) / 64 * 64;  // whole 64-column chunks
  s.strips = (g.n_out + s.strip_cols - 1) / s.strip_cols;
  return s;
}

template <int BITS, int RN, int CZ>
void fused_segment(const Gptq& g, int64_t k0, int64_t k1, int64_t col0, int64_t col1, const float* sx, float* partial) {
  constexpr int kPerWord = 32 / BITS;
  constexpr int64_t kCols = 16 * CZ;
  const __m512i code_mask = _mm512_set1_epi32((1 << BITS) - 1);
  const int64_t grp = k0 / g.group_size;
  for (int64_t c0 = col0; c0 < col1; c0 += kCols) {
    __mmask16 mask[CZ];
    TESSERA_UNROLL
    for (int c = 0; c < CZ; ++c) mask[c] = column_mask(c0 + 16 * c, g.n_out);
    __m512 qx[RN][CZ];
    TESSERA_UNROLL
    for (int r = 0; r < RN; ++r) {
      TESSERA_UNROLL
      for (int c = 0; c < CZ; ++c) qx[r][c] = _mm512_setzero_ps();
    }
    for (int64_t word = k0 / kPerWord; word < k1 / kPerWord; ++word) {
      __m512i q[CZ];
      TESSERA_UNROLL
      for (int c = 0; c < CZ; ++c) q[c] = _mm512_maskz_loadu_epi32(mask[c], g.qweight + word * g.n_out + c0 + 16 * c);
      const int64_t kb = word * kPerWord;
      TESSERA_UNROLL
      for (int i = 0; i < kPerWord; ++i) {
        __m512 qf[CZ];
        TESSERA_UNROLL
        for (int c = 0; c < CZ; ++c) {
          qf[c] = _mm512_cvtepi32_ps(_mm512_and_si512(q[c], code_mask));
          q[c] = _mm512_srli_epi32(q[c], BITS);
        }
        TESSERA_UNROLL
        for (int r = 0; r < RN; ++r) {
          const __m512 xb = _mm512_set1_ps(g.xp[r * g.k + kb + i]);
          TESSERA_UNROLL
          for (int c = 0; c < CZ; ++c) qx[r][c] = _mm512_fmadd_ps(qf[c], xb, qx[r][c]);
        }
      }
    }
    TESSERA_UNROLL
    for (int c = 0; c < CZ; ++c) {
      const __m512 scale = load_scales(g, grp, c0 + 16 * c, mask[c]);
      const __m512 zero = load_zeros(g, grp, c0 + 16 * c, mask[c]);
      TESSERA_UNROLL
      for (int r = 0; r < RN; ++r) {
        float* p = partial + r * g.n_out + c0 + 16 * c;
        const __m512 folded = _mm512_mul_ps(scale, _mm512_fnmadd_ps(zero, _mm512_set1_ps(sx[r]), qx[r][c]));
        _mm512_mask_storeu_ps(p, mask[c], _mm512_add_ps(_mm512_maskz_loadu_ps(mask[c], p), folded));
      }
    }
  }
}

template <int BITS, int RN, int CZ>
void fused_task(const Gptq& g, int64_t t) {
  const FusedSplit split = fused_split(g);
  const int64_t rb = t / split.strips, col0 = t % split.strips * split.strip_cols;
  const int64_t col1 = col0 + split.strip_cols < g.n_out ? col0 + split.strip_cols : g.n_out;
  float* partial = g.scratch + rb * g.rows * g.n_out;
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t c = col0; c < col1; ++c) partial[r * g.n_out + c] = 0;
  const int64_t task_end = (rb + 1) * kTaskRows < g.k ? (rb + 1) * kTaskRows : g.k;
  for (int64_t k0 = rb * kTaskRows; k0 < task_end;) {
    const int64_t group_end = (k0 / g.group_size + 1) * g.group_size;
    int64_t k1 = k0 + kSegmentRows;
    if (k1 > group_end) k1 = group_end;
    if (k1 > task_end) k1 = task_end;
    float sx[RN];  // sum of x over the segment, in double, rounded once
    for (int r = 0; r < RN; ++r) {
      double s = 0;
      for (int64_t k = k0; k < k1; ++k) s += static_cast<double>(g.xp[r * g.k + k]);
      sx[r] = static_cast<float>(s);
    }
    fused_segment<BITS, RN, CZ>(g, k0, k1, col0, col1, sx, partial);
    k0 = k1;
  }
}

template <int BITS>
void fused_range(void* user, int64_t begin, int64_t end, int) {
  const Gptq& g = *static_cast<const Gptq*>(user);
  for (int64_t t = begin; t < end; ++t) {
    switch (g.rows) {
      case 1:
        fused_task<BITS, 1, 4>(g, t);
        break;
      case 2:
        fused_task<BITS, 2, 2>(g, t);
        break;
      case 3:
        fused_task<BITS, 3, 2>(g, t);
        break;
      default:
        fused_task<BITS, 4, 2>(g, t);
        break;
    }
  }
}

// dst = the row blocks' partial sums added in order; one task per 256 outputs.
constexpr int64_t kReduceCols = 256;

void reduce_range(void* user, int64_t begin, int64_t end, int) {
  const Gptq& g = *static_cast<const Gptq*>(user);
  const int64_t tasks = (g.k + kTaskRows - 1) / kTaskRows;
  alignas(64) float out[kReduceCols];
  for (int64_t b = begin; b < end; ++b) {
    const int64_t c0 = b * kReduceCols, count = g.n_out - c0 < kReduceCols ? g.n_out - c0 : kReduceCols;
    for (int64_t r = 0; r < g.rows; ++r) {
      for (int64_t i = 0; i < count; ++i) out[i] = 0;
      for (int64_t t = 0; t < tasks; ++t) {
        const float* p = g.scratch + (t * g.rows + r) * g.n_out + c0;
        for (int64_t i = 0; i < count; ++i) out[i] += p[i];
      }
      store_row(*g.job, r, c0, out, count);
    }
  }
}

// x[perm[k]] for every activation row (the codes are in sorted-row order).
void gather(Gptq& g) {
  for (int64_t r = 0; r < g.rows; ++r) {
    const float* x = x_row(*g.job, r);
    float* xp = g.xp + r * g.k;
    for (int64_t k = 0; k < g.k; ++k) xp[k] = x[g.perm[k]];
  }
}

// ---- int8 mat-vec (AVX512_VNNI): qweight words straight into vpdpbusd -----
//
// The gathered activations x[perm[k]] are quantized per block of 32 rows
// (blocks never straddle a group: groups are multiples of 32 rows):
// amax = max |x|, d = amax / 127, q = round-half-away(x * (1 / d)) as int8,
// d kept in float. A qweight word is used as it is: at 8 bits its 4 bytes
// are the codes of 4 consecutive rows; at 4 bits, w & 0x0F0F0F0F holds rows
// {0, 2, 4, 6} of its 8 and (w >> 4) & 0x0F0F0F0F rows {1, 3, 5, 7}. The
// activation codes are stored in that order, 4 per int32, so each is one
// broadcast operand of vpdpbusd (unsigned codes x signed activations, 4
// products summed per lane). Per block and 16 columns the integer dot is
// converted once and FMA'd with d; per segment (<= 128 rows of one group
// inside one task) the zero point comes in once:
//   sum_k W x = scale * (sum_b d_b dot_b - zero * sum_b d_b sum(q_b)).
// Tasks, partial sums and their in-order reduction are the fused kernel's:
// results do not depend on the thread count.

#define TESSERA_VNNI [[gnu::target("avx512vnni")]]

// roundf (half away from zero) of 16 values in [-127, 127], as int32. The
// fraction v - trunc(v) is exact, so ties are found exactly.
__m512i round_half_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 away = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));  // copysign(1, v)
  return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, away, t, one));
}

// One block of 32 gathered activations -> 8 int32 of codes in qweight word
// order, the scale d and d * sum(codes).
template <int BITS>
void quantize_block(const float* x, int32_t* codes, float* d_out, float* dsum_out) {
  const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
  const float d = amax / 127.0f;
  const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  const __m512i q0 = round_half_away(_mm512_mul_ps(x0, id)), q1 = round_half_away(_mm512_mul_ps(x1, id));
  __m256i bytes = _mm256_set_m128i(_mm512_cvtsepi32_epi8(q1), _mm512_cvtsepi32_epi8(q0));
  if constexpr (BITS == 4) {
    // Each 8 rows (one word) as rows 0, 2, 4, 6 (low nibbles), then 1, 3, 5, 7.
    const __m256i even_odd = _mm256_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15,  //
                                              0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
    bytes = _mm256_shuffle_epi8(bytes, even_odd);
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes), bytes);
  *d_out = d;
  *dsum_out = d * static_cast<float>(_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)));
}

template <int BITS>
void quantize_activations(Gptq& g) {
  const int64_t blocks = g.k / 32;
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t b = 0; b < blocks; ++b)
      quantize_block<BITS>(g.xp + r * g.k + b * 32, g.x8 + r * (g.k / 4) + b * 8, g.x8_d + r * blocks + b,
                           g.x8_dsum + r * blocks + b);
}

// A segment (rows of one group inside a task, at most kInt8SegmentRows) is
// run over all the task's columns before the next: its 16 (4-bit) or 32
// (8-bit) qweight rows are the streams in flight, each software-prefetched
// kPrefetchWords columns (2 chunks of 64) ahead into L1. Measured on the 7B
// GPTQ g128 decode, 2 threads (2-core Sapphire Rapids VM, interleaved runs):
// no prefetch 5.8 t/s; 64 / 128 / 192 / 256 / 512 / 2048 words ahead
// 6.9 / 7.0-7.1 / 6.9 / 6.9 / 6.7 / 6.1 (T1 no better); segments of 64 rows
// within noise of 128; at 512 words ahead, the whole 256-row task per 64
// columns (32 streams) 6.3 against 6.7-6.9 for 128-row segments.
constexpr int64_t kPrefetchWords = 128;
constexpr int64_t kInt8SegmentRows = 128;

// Rows [k0, k1) of one group times columns [col0, col1), folded into the
// task's partial sums (set on the task's first segment, else added): one
// segment at a time keeps k1 - k0 rows of qweight as the streams in flight.
template <int BITS, int RN, int CZ, bool SPLIT>
TESSERA_VNNI void int8_segment(const Gptq& g, int64_t k0, int64_t k1, int64_t col0, int64_t col1, bool first,
                               float* partial) {
  constexpr int64_t kWordsPerBlock = BITS;  // 32 rows of BITS bits
  const int64_t blocks_per_row = g.k / 32, grp = k0 / g.group_size;
  const __m512i nibbles = _mm512_set1_epi32(0x0F0F0F0F);
  __m512 dsum[RN];  // sum_b d_b * sum(q_b) over the segment: the zero point's factor
  TESSERA_UNROLL
  for (int r = 0; r < RN; ++r) {
    float s = 0;
    for (int64_t b = k0 / 32; b < k1 / 32; ++b) s += g.x8_dsum[r * blocks_per_row + b];
    dsum[r] = _mm512_set1_ps(s);
  }
  for (int64_t c0 = col0; c0 < col1; c0 += 16 * CZ) {
    __mmask16 mask[CZ];
    TESSERA_UNROLL
    for (int c = 0; c < CZ; ++c) mask[c] = column_mask(c0 + 16 * c, g.n_out);
    __m512 sum[RN][CZ];  // sum_b d_b * dot_b
    TESSERA_UNROLL
    for (int r = 0; r < RN; ++r) {
      TESSERA_UNROLL
      for (int c = 0; c < CZ; ++c) sum[r][c] = _mm512_setzero_ps();
    }
    for (int64_t b = k0 / 32; b < k1 / 32; ++b) {
      __m512i dot[RN][CZ], dot_odd[RN][CZ];
      TESSERA_UNROLL
      for (int r = 0; r < RN; ++r) {
        TESSERA_UNROLL
        for (int c = 0; c < CZ; ++c) dot[r][c] = dot_odd[r][c] = _mm512_setzero_si512();
      }
      TESSERA_UNROLL
      for (int i = 0; i < kWordsPerBlock; ++i) {
        const uint32_t* words = g.qweight + (b * kWordsPerBlock + i) * g.n_out + c0;
        __m512i w[CZ];
        TESSERA_UNROLL
        for (int c = 0; c < CZ; ++c) {
          _mm_prefetch(reinterpret_cast<const char*>(words + 16 * c + kPrefetchWords), _MM_HINT_T0);
          w[c] = _mm512_maskz_loadu_epi32(mask[c], words + 16 * c);
        }
        TESSERA_UNROLL
        for (int r = 0; r < RN; ++r) {
          const int32_t* x8 = g.x8 + r * (g.k / 4) + b * 8;
          if constexpr (BITS == 4) {
            const __m512i even = _mm512_set1_epi32(x8[2 * i]), odd = _mm512_set1_epi32(x8[2 * i + 1]);
            TESSERA_UNROLL
            for (int c = 0; c < CZ; ++c) {
              dot[r][c] = _mm512_dpbusd_epi32(dot[r][c], _mm512_and_si512(w[c], nibbles), even);
              __m512i& acc = SPLIT ? dot_odd[r][c] : dot[r][c];
              acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(_mm512_srli_epi32(w[c], 4), nibbles), odd);
            }
          } else {
            const __m512i x4 = _mm512_set1_epi32(x8[i]);
            TESSERA_UNROLL
            for (int c = 0; c < CZ; ++c) dot[r][c] = _mm512_dpbusd_epi32(dot[r][c], w[c], x4);
          }
        }
      }
      TESSERA_UNROLL
      for (int r = 0; r < RN; ++r) {
        const __m512 d = _mm512_set1_ps(g.x8_d[r * blocks_per_row + b]);
        TESSERA_UNROLL
        for (int c = 0; c < CZ; ++c) {
          const __m512i total = SPLIT ? _mm512_add_epi32(dot[r][c], dot_odd[r][c]) : dot[r][c];
          sum[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), d, sum[r][c]);
        }
      }
    }
    TESSERA_UNROLL
    for (int c = 0; c < CZ; ++c) {
      const __m512 scale = load_scales(g, grp, c0 + 16 * c, mask[c]);
      const __m512 zero = load_zeros(g, grp, c0 + 16 * c, mask[c]);
      TESSERA_UNROLL
      for (int r = 0; r < RN; ++r) {
        float* p = partial + r * g.n_out + c0 + 16 * c;
        const __m512 before = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask[c], p);
        _mm512_mask_storeu_ps(p, mask[c], _mm512_fmadd_ps(scale, _mm512_fnmadd_ps(zero, dsum[r], sum[r][c]), before));
      }
    }
  }
}

// Task t of fused_split: its rows in segments of at most kInt8SegmentRows
// inside one group. RN activation rows x CZ vectors of 16 columns; at 4
// bits SPLIT keeps the odd rows' integer sums in their own registers
// (twice the independent vpdpbusd chains, for few rows x columns).
template <int BITS, int RN, int CZ, bool SPLIT>
TESSERA_VNNI void int8_task(const Gptq& g, int64_t t) {
  const FusedSplit split = fused_split(g);
  const int64_t rb = t / split.strips, col0 = t % split.strips * split.strip_cols;
  const int64_t col1 = col0 + split.strip_cols < g.n_out ? col0 + split.strip_cols : g.n_out;
  const int64_t k_begin = rb * kTaskRows, k_end = k_begin + kTaskRows < g.k ? k_begin + kTaskRows : g.k;
  float* partial = g.scratch + rb * g.rows * g.n_out;
  for (int64_t k0 = k_begin; k0 < k_end;) {
    int64_t k1 = (k0 / g.group_size + 1) * g.group_size;
    if (k1 > k0 + kInt8SegmentRows) k1 = k0 + kInt8SegmentRows;
    if (k1 > k_end) k1 = k_end;
    int8_segment<BITS, RN, CZ, SPLIT>(g, k0, k1, col0, col1, k0 == k_begin, partial);
    k0 = k1;
  }
}

template <int BITS>
TESSERA_VNNI void int8_range(void* user, int64_t begin, int64_t end, int) {
  const Gptq& g = *static_cast<const Gptq*>(user);
  for (int64_t t = begin; t < end; ++t) {
    switch (g.rows) {
      case 1:
        int8_task<BITS, 1, 4, true>(g, t);
        break;
      case 2:
        int8_task<BITS, 2, 2, true>(g, t);
        break;
      case 3:
        int8_task<BITS, 3, 2, false>(g, t);
        break;
      default:
        int8_task<BITS, 4, 2, false>(g, t);
        break;
    }
  }
}

// ---- int8 prefill panel (AVX512_VNNI; more than 4 activation rows) ---------
//
// Each zmm lane is one activation row. The gathered rows x[perm[k]] are
// quantized exactly as the mat-vec quantizes them (quantize_block: blocks of
// 32, codes in qweight word order) and packed per 16 rows as
// [K / 4][16 rows][4 codes], with per block the 16 scales d and per group
// the 16 sums sum_b d_b * sum(q_b) (the zero point's factor). A task takes 8
// output columns: their qweight words are copied once into a k-major panel
// [K / 4][8 columns] of 4 unsigned codes each (4 bits: w & 0x0F0F0F0F, then
// (w >> 4) & 0x0F0F0F0F, the activation codes' order), which every group
// of 16 rows then runs against: vpdpbusd multiplies one column's 4 codes
// (broadcast) by 4 signed codes of 16 rows. Per block and column one cvt and
// one FMA by the 16 d's; per group the fold of the mat-vec,
// scale * (sum - zero * sum_b d_b sum(q_b)). (Codes minus zero would fold the
// zero point into the integers, but 8-bit weights do not fit int8 then.)
// Every output is summed by one task in block order: results do not depend on
// the thread count.

constexpr int64_t kPanel8Cols = 8;  // output columns per task (8 int + 8 group + 8 total accumulators)
constexpr int64_t kRowLanes = 16;   // activation rows per vector

struct Int8Panel {
  const Gptq* g;
  int64_t row_groups;  // groups of kRowLanes activation rows
  int32_t* codes;      // [row group][K / 4][16]
  float* d;            // [row group][K / 32][16]
  float* zsum;         // [row group][n_groups][16]
  std::byte* scratch;  // per thread: panel [K / 4][8] int32, scale and zero [n_groups][8] floats each
  uint64_t scratch_per_thread;
};

// Activation row r -> lane r % 16 of its row group (padding lanes stay 0).
template <int BITS>
void pack_rows_range(void* user, int64_t begin, int64_t end, int) {
  const Int8Panel& p = *static_cast<const Int8Panel*>(user);
  const Gptq& g = *p.g;
  const int64_t blocks = g.k / 32, units = g.k / 4;
  alignas(64) float x32[32];
  alignas(64) int32_t c8[8];
  for (int64_t r = begin; r < end; ++r) {
    const float* x = x_row(*g.job, r);
    const int64_t rg = r / kRowLanes, lane = r % kRowLanes;
    int32_t* codes = p.codes + rg * units * kRowLanes + lane;
    float* d = p.d + rg * blocks * kRowLanes + lane;
    float* zsum = p.zsum + rg * g.n_groups * kRowLanes + lane;
    for (int64_t b = 0; b < blocks; ++b) {
      for (int i = 0; i < 32; ++i) x32[i] = x[g.perm[b * 32 + i]];
      float dsum = 0;
      quantize_block<BITS>(x32, c8, d + b * kRowLanes, &dsum);
      for (int i = 0; i < 8; ++i) codes[(b * 8 + i) * kRowLanes] = c8[i];
      zsum[(b * 32 / g.group_size) * kRowLanes] += dsum;
    }
  }
}

// The task's 8 columns from c0: codes as 4-byte units, k-major; per group
// their scales and zero points. Columns past n_out read code 0, scale 0.
template <int BITS>
void decode_panel8(const Gptq& g, int64_t c0, int32_t* panel, float* scale, float* zero) {
  const __mmask8 m = static_cast<__mmask8>(column_mask(c0, g.n_out) & 0xFF);
  const int64_t words = g.k * BITS / 32;
  const __m256i nibbles = _mm256_set1_epi32(0x0F0F0F0F);
  for (int64_t wi = 0; wi < words; ++wi) {
    const __m256i w = _mm256_maskz_loadu_epi32(m, g.qweight + wi * g.n_out + c0);
    if constexpr (BITS == 4) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(panel + (2 * wi) * kPanel8Cols), _mm256_and_si256(w, nibbles));
      _mm256_store_si256(reinterpret_cast<__m256i*>(panel + (2 * wi + 1) * kPanel8Cols),
                         _mm256_and_si256(_mm256_srli_epi32(w, 4), nibbles));
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(panel + wi * kPanel8Cols), w);
    }
  }
  for (int64_t grp = 0; grp < g.n_groups; ++grp) {
    _mm256_store_ps(scale + grp * kPanel8Cols,
                    _mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, g.scales + grp * g.n_out + c0)));
    _mm256_store_ps(zero + grp * kPanel8Cols,
                    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, g.zeros + grp * g.n_out + c0))));
  }
}

// The 8 columns of the panel times the 16 rows of row group rg: out[c] holds
// column c for the 16 rows.
TESSERA_VNNI void int8_panel_tile(const Gptq& g, const Int8Panel& p, const int32_t* panel, const float* scale,
                                  const float* zero, int64_t rg, __m512 (&out)[kPanel8Cols]) {
  const int64_t blocks = g.k / 32;
  const int32_t* codes = p.codes + rg * (g.k / 4) * kRowLanes;
  const float* d = p.d + rg * blocks * kRowLanes;
  const float* zsum = p.zsum + rg * g.n_groups * kRowLanes;
  __m512 acc[kPanel8Cols];
  TESSERA_UNROLL
  for (int c = 0; c < kPanel8Cols; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t grp = 0; grp < g.n_groups; ++grp) {
    const int64_t b0 = grp * g.group_size / 32;
    const int64_t b1 = (grp + 1) * g.group_size < g.k ? (grp + 1) * g.group_size / 32 : blocks;
    __m512 sum[kPanel8Cols];  // sum_b d_b * dot_b over the group
    TESSERA_UNROLL
    for (int c = 0; c < kPanel8Cols; ++c) sum[c] = _mm512_setzero_ps();
    for (int64_t b = b0; b < b1; ++b) {
      __m512i dot[kPanel8Cols];
      TESSERA_UNROLL
      for (int c = 0; c < kPanel8Cols; ++c) dot[c] = _mm512_setzero_si512();
      TESSERA_UNROLL
      for (int64_t u = b * 8; u < b * 8 + 8; ++u) {
        const __m512i x = _mm512_load_si512(codes + u * kRowLanes);
        TESSERA_UNROLL
        for (int c = 0; c < kPanel8Cols; ++c)
          dot[c] = _mm512_dpbusd_epi32(dot[c], _mm512_set1_epi32(panel[u * kPanel8Cols + c]), x);
      }
      const __m512 db = _mm512_load_ps(d + b * kRowLanes);
      TESSERA_UNROLL
      for (int c = 0; c < kPanel8Cols; ++c) sum[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[c]), db, sum[c]);
    }
    const __m512 zs = _mm512_load_ps(zsum + grp * kRowLanes);
    TESSERA_UNROLL
    for (int c = 0; c < kPanel8Cols; ++c)
      acc[c] = _mm512_fmadd_ps(_mm512_set1_ps(scale[grp * kPanel8Cols + c]),
                               _mm512_fnmadd_ps(_mm512_set1_ps(zero[grp * kPanel8Cols + c]), zs, sum[c]), acc[c]);
  }
  TESSERA_UNROLL
  for (int c = 0; c < kPanel8Cols; ++c) out[c] = acc[c];
}

template <int BITS>
TESSERA_VNNI void int8_panel_range(void* user, int64_t begin, int64_t end, int thread) {
  const Int8Panel& p = *static_cast<const Int8Panel*>(user);
  const Gptq& g = *p.g;
  std::byte* mine = p.scratch + static_cast<uint64_t>(thread) * p.scratch_per_thread;
  int32_t* panel = reinterpret_cast<int32_t*>(mine);
  float* scale = reinterpret_cast<float*>(panel + (g.k / 4) * kPanel8Cols);
  float* zero = scale + g.n_groups * kPanel8Cols;
  for (int64_t t = begin; t < end; ++t) {
    const int64_t c0 = t * kPanel8Cols;
    const int64_t cols = g.n_out - c0 < kPanel8Cols ? g.n_out - c0 : kPanel8Cols;
    decode_panel8<BITS>(g, c0, panel, scale, zero);
    for (int64_t rg = 0; rg < p.row_groups; ++rg) {
      __m512 out[kPanel8Cols];
      int8_panel_tile(g, p, panel, scale, zero, rg, out);
      alignas(64) float lanes[kPanel8Cols][kRowLanes];
      TESSERA_UNROLL
      for (int c = 0; c < kPanel8Cols; ++c) _mm512_store_ps(lanes[c], out[c]);
      const int64_t rows = g.rows - rg * kRowLanes < kRowLanes ? g.rows - rg * kRowLanes : kRowLanes;
      for (int64_t l = 0; l < rows; ++l) {
        float v[kPanel8Cols];
        for (int64_t c = 0; c < cols; ++c) v[c] = lanes[c][l];
        store_row(*g.job, rg * kRowLanes + l, c0, v, cols);
      }
    }
  }
}

template <int BITS>
void run_int8_panel(const Gptq& g, ThreadPool& pool) {
  Int8Panel p{};
  p.g = &g;
  p.row_groups = (g.rows + kRowLanes - 1) / kRowLanes;
  const uint64_t lanes = static_cast<uint64_t>(p.row_groups * kRowLanes);
  const uint64_t code_bytes = lanes * static_cast<uint64_t>(g.k / 4) * sizeof(int32_t);
  const uint64_t d_bytes = lanes * static_cast<uint64_t>(g.k / 32) * sizeof(float);
  const uint64_t zsum_bytes = lanes * static_cast<uint64_t>(g.n_groups) * sizeof(float);
  p.scratch_per_thread = (static_cast<uint64_t>(g.k / 4 + 2 * g.n_groups) * kPanel8Cols * 4 + 63) / 64 * 64;
  const uint64_t bytes = code_bytes + d_bytes + zsum_bytes + p.scratch_per_thread * static_cast<uint64_t>(pool.size());
  // One allocation of 64-byte aligned parts (every part is a multiple of 64
  // bytes: 16 lanes of 4 bytes). Padding lanes stay code 0, scale 0.
  std::byte* mem = static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64}));
  std::memset(mem, 0, code_bytes + d_bytes + zsum_bytes);
  p.codes = reinterpret_cast<int32_t*>(mem);
  p.d = reinterpret_cast<float*>(mem + code_bytes);
  p.zsum = reinterpret_cast<float*>(mem + code_bytes + d_bytes);
  p.scratch = mem + code_bytes + d_bytes + zsum_bytes;
  pool.parallel_for(g.rows, pack_rows_range<BITS>, &p);
  pool.parallel_for((g.n_out + kPanel8Cols - 1) / kPanel8Cols, int8_panel_range<BITS>, &p);
  ::operator delete(mem, std::align_val_t{64});
}

// ---- panel: 32 columns dequantized once, reused by every activation row ---

constexpr int64_t kPanelCols = 32;

template <int BITS>
void decode_panel(const Gptq& g, int64_t c0, float* panel) {
  constexpr int kPerWord = 32 / BITS;
  const __m512i code_mask = _mm512_set1_epi32((1 << BITS) - 1);
  const __mmask16 m0 = column_mask(c0, g.n_out), m1 = column_mask(c0 + 16, g.n_out);
  for (int64_t grp = 0; grp < g.n_groups; ++grp) {
    const int64_t k0 = grp * g.group_size, k1 = k0 + g.group_size < g.k ? k0 + g.group_size : g.k;
    const __m512 s0 = load_scales(g, grp, c0, m0), s1 = load_scales(g, grp, c0 + 16, m1);
    const __m512 z0 = load_zeros(g, grp, c0, m0), z1 = load_zeros(g, grp, c0 + 16, m1);
    for (int64_t word = k0 / kPerWord; word < k1 / kPerWord; ++word) {
      __m512i q0 = _mm512_maskz_loadu_epi32(m0, g.qweight + word * g.n_out + c0);
      __m512i q1 = _mm512_maskz_loadu_epi32(m1, g.qweight + word * g.n_out + c0 + 16);
      TESSERA_UNROLL
      for (int i = 0; i < kPerWord; ++i) {
        // scale * (q - zero), the reference's exact float operations.
        float* row = panel + static_cast<int64_t>(g.perm[word * kPerWord + i]) * kPanelCols;
        _mm512_store_ps(row, _mm512_mul_ps(s0, _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q0, code_mask)), z0)));
        _mm512_store_ps(row + 16,
                        _mm512_mul_ps(s1, _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q1, code_mask)), z1)));
        q0 = _mm512_srli_epi32(q0, BITS);
        q1 = _mm512_srli_epi32(q1, BITS);
      }
    }
  }
}

template <int RN>
void panel_rows(const Gptq& g, const float* panel, int64_t r0, int64_t c0) {
  const float* x[RN];
  TESSERA_UNROLL
  for (int r = 0; r < RN; ++r) x[r] = x_row(*g.job, r0 + r);
  __m512 acc[RN][2];
  TESSERA_UNROLL
  for (int r = 0; r < RN; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < g.k; ++k) {
    const __m512 w0 = _mm512_load_ps(panel + k * kPanelCols), w1 = _mm512_load_ps(panel + k * kPanelCols + 16);
    TESSERA_UNROLL
    for (int r = 0; r < RN; ++r) {
      const __m512 xb = _mm512_set1_ps(x[r][k]);
      acc[r][0] = _mm512_fmadd_ps(w0, xb, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(w1, xb, acc[r][1]);
    }
  }
  const int64_t count = g.n_out - c0 < kPanelCols ? g.n_out - c0 : kPanelCols;
  TESSERA_UNROLL
  for (int r = 0; r < RN; ++r) {
    alignas(64) float out[kPanelCols];
    _mm512_store_ps(out, acc[r][0]);
    _mm512_store_ps(out + 16, acc[r][1]);
    store_row(*g.job, r0 + r, c0, out, count);
  }
}

template <int BITS>
void panel_range(void* user, int64_t begin, int64_t end, int thread) {
  const Gptq& g = *static_cast<const Gptq*>(user);
  float* panel = g.scratch + static_cast<int64_t>(thread) * g.panel_floats;
  for (int64_t t = begin; t < end; ++t) {
    const int64_t c0 = t * kPanelCols;
    decode_panel<BITS>(g, c0, panel);
    int64_t r = 0;
    for (; r + 6 <= g.rows; r += 6) panel_rows<6>(g, panel, r, c0);
    switch (g.rows - r) {
      case 1:
        panel_rows<1>(g, panel, r, c0);
        break;
      case 2:
        panel_rows<2>(g, panel, r, c0);
        break;
      case 3:
        panel_rows<3>(g, panel, r, c0);
        break;
      case 4:
        panel_rows<4>(g, panel, r, c0);
        break;
      case 5:
        panel_rows<5>(g, panel, r, c0);
        break;
      default:
        break;
    }
  }
}

// INT8: the mat-vec runs on int8 activations (int8_range, AVX512_VNNI).
template <int BITS, bool INT8>
void run_gptq(const MatMulJob& j, ThreadPool& pool) {
  Gptq g = gptq_of(j);
  if (g.rows == 0) return;
  if (g.rows <= kFusedMaxRows) {
    const FusedSplit split = fused_split(g);
    // xp, the partial sums [row blocks][rows][n_out], then (INT8) per row
    // k / 4 int32 of codes and 2 * k / 32 floats of block scales.
    const size_t int8_floats = INT8 ? static_cast<size_t>(g.rows * (g.k / 4 + 2 * (g.k / 32))) : 0;
    const size_t floats = static_cast<size_t>(g.rows * g.k + split.row_blocks * g.rows * g.n_out) + int8_floats;
    void* mem = ::operator new (floats * sizeof(float), std::align_val_t{64});
    g.xp = static_cast<float*>(mem);
    g.scratch = g.xp + g.rows * g.k;
    gather(g);
    if constexpr (INT8) {
      g.x8 = reinterpret_cast<int32_t*>(g.scratch + split.row_blocks * g.rows * g.n_out);
      g.x8_d = reinterpret_cast<float*>(g.x8 + g.rows * (g.k / 4));
      g.x8_dsum = g.x8_d + g.rows * (g.k / 32);
      quantize_activations<BITS>(g);
      pool.parallel_for(split.row_blocks * split.strips, int8_range<BITS>, &g);
    } else {
      pool.parallel_for(split.row_blocks * split.strips, fused_range<BITS>, &g);
    }
    pool.parallel_for((g.n_out + kReduceCols - 1) / kReduceCols, reduce_range, &g);
    ::operator delete (mem, std::align_val_t{64});
    return;
  }
  if constexpr (INT8) {
    run_int8_panel<BITS>(g, pool);
    return;
  }
  g.panel_floats = g.k * kPanelCols;
  const size_t bytes = static_cast<size_t>(g.panel_floats) * sizeof(float) * static_cast<size_t>(pool.size());
  void* mem = ::operator new (bytes, std::align_val_t{64});
  g.scratch = static_cast<float*>(mem);
  pool.parallel_for((g.n_out + kPanelCols - 1) / kPanelCols, panel_range<BITS>, &g);
  ::operator delete (mem, std::align_val_t{64});
}

}  // namespace

MatMulFn gptq_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_GPTQ_4BIT:
      return run_gptq<4, false>;
    case TESSERA_DTYPE_GPTQ_8BIT:
      return run_gptq<8, false>;
    default:
      return nullptr;  // 3 bits: codes straddle words; the scalar path runs it
  }
}

MatMulFn gptq_vnni_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_GPTQ_4BIT:
      return run_gptq<4, true>;
    case TESSERA_DTYPE_GPTQ_8BIT:
      return run_gptq<8, true>;
    default:
      return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
