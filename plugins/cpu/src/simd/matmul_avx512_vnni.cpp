// `kernels: vnni`: mat-vec (N <= 4 columns) for Q4_0 and Q8_0 weights as
// integer dot products. The activation columns are quantized once per call
// to blocks of 32 int8 with one float scale (see quantize_block), then each
// weight block's dot product with them is one vpdpbusd (AVX512_VNNI, 256-bit)
// and the float sum gets d_w * d_x * int_dot per block: fewer instructions
// per block than expanding the weights to floats. Results differ from the
// float kernels by the activation rounding (~0.4% of the output's term
// scale); N > 4 (prefill) runs the float kernels of
// matmul_avx512_legacy.cpp unchanged.
//
// Activation quantization (the test reimplements this from the same words):
// per block of 32 values x, amax = max |x|, d = amax / 127 (float),
// id = d != 0 ? 1 / d : 0, q = round-half-away-from-zero(x * id) as int8.
#include "avx512_intrin.hpp"

#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "tessera/quant/blocks.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

using namespace tessera::quant;

constexpr int64_t kBlock = 32;
// Software prefetch distance along each weight row, in blocks (may point
// past the row's end: prefetches never fault). Decode from DRAM is bound by
// the misses one core keeps in flight, not by arithmetic: without it this
// kernel was no faster than the float one; 32 blocks (576 B of Q4_0, 1088 B
// of Q8_0) was about the best of 512, 1024 and 2048 bytes tried on Zen 4.
constexpr int64_t kPrefetchBlocks = 32;

// One quantized activation column: per block 32 codes, the scale, and for
// Q4_0 the lane sums of -8 * codes (8 lanes of 4 codes, vpdpbusd's grouping),
// so the weights' unsigned 0..15 codes give sum((q - 8) * x8) in one step.
struct QuantColumn {
  const int8_t* q;
  const float* d;
  const int32_t* minus8;
};

struct Activations {
  int8_t* q;
  float* d;
  int32_t* minus8;
  int64_t blocks;   // per column
  int64_t columns;  // n * c2 * c3
  QuantColumn column(int64_t i) const {
    return {q + i * blocks * kBlock, d + i * blocks, minus8 + i * blocks * 8};
  }
};

void quantize_block(const float* x, int8_t* q, float* d_out, int32_t* minus8) {
  const __m512 a0 = _mm512_abs_ps(_mm512_loadu_ps(x)), a1 = _mm512_abs_ps(_mm512_loadu_ps(x + 16));
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kBlock; ++i) q[i] = static_cast<int8_t>(__builtin_roundf(x[i] * id));
  *d_out = d;
  const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), codes);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(minus8), _mm256_sub_epi32(_mm256_setzero_si256(), sums));
}

struct Job {
  const MatMulJob* job;
  Activations act;
  Geometry geo;
};

// One activation column per unit: unit = (c3 * c2 + c2 index) * n + column.
void quantize_range(void* user, int64_t begin, int64_t end, int) {
  const Job& jb = *static_cast<const Job*>(user);
  const MatMulJob& j = *jb.job;
  for (int64_t u = begin; u < end; ++u) {
    const int64_t col = u % j.n, batch = u / j.n;
    const float* x = reinterpret_cast<const float*>(j.x + static_cast<uint64_t>(col) * j.x_nb1 +
                                                    static_cast<uint64_t>(batch % j.c2) * j.x_nb2 +
                                                    static_cast<uint64_t>(batch / j.c2) * j.x_nb3);
    int8_t* q = jb.act.q + u * jb.act.blocks * kBlock;
    float* d = jb.act.d + u * jb.act.blocks;
    int32_t* m8 = jb.act.minus8 + u * jb.act.blocks * 8;
    for (int64_t b = 0; b < jb.act.blocks; ++b) quantize_block(x + b * kBlock, q + b * kBlock, d + b, m8 + b * 8);
  }
}

// Q4_0: codes 0..15, low nibbles are values 0..15, high nibbles 16..31.
struct IntQ4_0 {
  static constexpr int kBytes = sizeof(BlockQ4_0);
  static float scale(const std::byte* p) { return half_to_float(reinterpret_cast<const BlockQ4_0*>(p)->d); }
  static __m256i dot(const std::byte* p, const QuantColumn& x, int64_t b) {
    const __m128i raw = load128(reinterpret_cast<const BlockQ4_0*>(p)->qs);
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m256i codes =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
    const __m256i init = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.minus8 + b * 8));
    return _mm256_dpbusd_epi32(init, codes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * kBlock)));
  }
};

// Q8_0: signed x signed through the unsigned-by-signed instruction: |w| times
// x with w's sign. |-128| reads as unsigned 128, and x is never -128.
struct IntQ8_0 {
  static constexpr int kBytes = sizeof(BlockQ8_0);
  static float scale(const std::byte* p) { return half_to_float(reinterpret_cast<const BlockQ8_0*>(p)->d); }
  static __m256i dot(const std::byte* p, const QuantColumn& x, int64_t b) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const BlockQ8_0*>(p)->qs));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * kBlock));
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(xq, w));
  }
};

// RR rows x RN columns; per (row, column) a float vector of 8 lanes gets
// cvt(int lanes) * (d_w * d_x) per block, summed at the end.
template <class D, int RN, int RR>
inline void int_rows(const std::byte* const* w, const QuantColumn* x, int64_t blocks, float (&out)[RR][RN]) {
  __m256 acc[RR][RN];
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r) {
      const std::byte* p = w[r] + static_cast<uint64_t>(b) * D::kBytes;
      _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBlocks * D::kBytes, _MM_HINT_T0);
      const float dw = D::scale(p);
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c) {
        const __m256 dot = _mm256_cvtepi32_ps(D::dot(p, x[c], b));
        acc[r][c] = _mm256_fmadd_ps(dot, _mm256_set1_ps(dw * x[c].d[b]), acc[r][c]);
      }
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) {
      const __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[r][c]), _mm256_extractf128_ps(acc[r][c], 1));
      const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
      out[r][c] = _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
    }
}

template <class D, int RN, int RR>
inline void int_group(const MatMulJob& j, const Task& t, int64_t first, const QuantColumn* x, int64_t blocks) {
  const std::byte* w[RR];
  for (int r = 0; r < RR; ++r) w[r] = t.w0 + static_cast<uint64_t>(first + r) * t.w_stride;
  float out[RR][RN];
  int_rows<D, RN, RR>(w, x, blocks, out);
  for (int r = 0; r < RR; ++r)
    for (int c = 0; c < RN; ++c) *dst_at(j, t, t.m0 + first + r, c) = out[r][c];
}

template <class D, int RN, int RR>
inline void int_task(const Job& jb, const Task& t) {
  const MatMulJob& j = *jb.job;
  QuantColumn x[RN];
  const int64_t first_column = (t.c3 * j.c2 + t.c2) * j.n;
  for (int c = 0; c < RN; ++c) x[c] = jb.act.column(first_column + c);
  int64_t r = 0;
  for (; r + RR <= t.rows; r += RR) int_group<D, RN, RR>(j, t, r, x, jb.act.blocks);
  for (; r < t.rows; ++r) int_group<D, RN, 1>(j, t, r, x, jb.act.blocks);
}

template <class D>
void int_range(void* user, int64_t begin, int64_t end, int) {
  const Job& jb = *static_cast<const Job*>(user);
  for (int64_t i = begin; i < end; ++i) {
    const Task t = task_of(jb.geo, i);
    switch (jb.job->n) {
      case 1: int_task<D, 1, 4>(jb, t); break;
      case 2: int_task<D, 2, 2>(jb, t); break;
      case 3: int_task<D, 3, 1>(jb, t); break;
      default: int_task<D, 4, 1>(jb, t); break;
    }
  }
}

template <class D>
void run_int8(const MatMulJob& j, ThreadPool& pool) {
  if (j.n > kFusedMaxN) {  // prefill: the float panel kernels, unchanged
    legacy_kernel(j.dtype)(j, pool);
    return;
  }
  Job jb{};
  jb.job = &j;
  jb.geo = geometry_of(j);
  const int64_t tasks = jb.geo.row_groups * j.c2 * j.c3;
  if (tasks == 0 || j.n == 0) return;
  jb.act.blocks = j.k / kBlock;  // Q4_0 / Q8_0 rows are whole blocks
  jb.act.columns = j.n * j.c2 * j.c3;
  // One allocation per call: codes, scales, Q4_0 correction lanes. Raw
  // operator new: no library template is instantiated in this AVX-512 unit.
  const size_t values = static_cast<size_t>(jb.act.blocks * jb.act.columns);
  const size_t bytes = values * (kBlock + sizeof(float) + 8 * sizeof(int32_t));
  void* mem = ::operator new(bytes, std::align_val_t{64});
  jb.act.minus8 = static_cast<int32_t*>(mem);
  jb.act.d = reinterpret_cast<float*>(jb.act.minus8 + values * 8);
  jb.act.q = reinterpret_cast<int8_t*>(jb.act.d + values);
  pool.parallel_for(jb.act.columns, quantize_range, &jb);
  pool.parallel_for(tasks, int_range<D>, &jb);
  ::operator delete(mem, std::align_val_t{64});
}

}  // namespace

MatMulFn vnni_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_Q4_0: return run_int8<IntQ4_0>;
    case TESSERA_DTYPE_Q8_0: return run_int8<IntQ8_0>;
    default: return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
