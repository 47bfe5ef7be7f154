// `kernels: vnni`: mat-vec (N <= 4) for Q4_K, Q5_K and Q6_K weights as
// integer dot products, the way llama.cpp computes these types: each
// activation column is quantized once per call to Q8_K blocks (256 int8 with
// one float scale, plus the sums of every 16 codes), then per 64 values of
// a weight block one vpmaddubsw (unsigned weight codes times signed
// activation codes, pairs summed to int16) and one vpdpwssd (those int16
// times the sub-block scale of their lane, summed into int32) accumulate
// the block's integer sum, and one float FMA per block adds d_w * d_x times
// it. (vpdpbusd and a vpmulld by the lane scales is one instruction more
// per 64 values and measured slower.) The offsets (Q4_K / Q5_K mins, Q6_K's
// -32) use the activation sums instead of touching every value. The float
// kernels expand each code to a float and spend one FMA per 16 values.
// N > 4 (prefill) runs the float kernels (matmul_avx512_kquant.cpp).
//
// Activation quantization (llama.cpp's Q8_K; the test reimplements it from
// these words): per 256 values x, amax = max |x|; amax = 0 gives d = 0 and
// codes 0; else iscale = 127 / amax (float), q = round-half-to-even(x *
// iscale) clamped to [-127, 127], d = 1 / iscale. (llama.cpp divides by the
// signed value of largest magnitude, which negates q and d together: the
// same products d * q.)
#include "avx512_intrin.hpp"

#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "int8_matvec.hpp"
#include "tessera/quant/blocks.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

using namespace tessera::quant;

constexpr int64_t kSuper = 256;  // values per weight block and per activation block

struct KColumn {
  const int8_t* q;       // [blocks][256]
  const float* d;        // [blocks]
  const int16_t* sum16;  // [blocks][16]: sum of codes 16 i .. 16 i + 15
  const int16_t* sum32;  // [blocks][8]: sum of codes 32 i .. 32 i + 31
};

// Q4_K / Q5_K keep the codes of values 32 g .. 32 g + 31 in the low nibbles
// of qs[32 (g / 2) ..] for even g and in the high nibbles for odd g, so a
// 64-byte load masked with 0x0F holds groups 0 and 2 (4 and 6), shifted by 4
// groups 1 and 3 (5 and 7). The activation codes are stored in that order:
// 32-code chunk g of a block at position kPairOrder[g]. Q6_K keeps the
// natural order (kNaturalOrder). Only the codes are reordered; the sums stay
// indexed by group.
constexpr int kPairOrder[8] = {0, 2, 1, 3, 4, 6, 5, 7};
constexpr int kNaturalOrder[8] = {0, 1, 2, 3, 4, 5, 6, 7};

struct KActivations {
  int8_t* q;
  float* d;
  int16_t* sum16;
  int16_t* sum32;
  int64_t blocks;   // per column
  int64_t columns;  // n * c2 * c3
  const int* order;  // kPairOrder or kNaturalOrder
  KColumn column(int64_t u) const { return {q + u * blocks * kSuper, d + u * blocks, sum16 + u * blocks * 16, sum32 + u * blocks * 8}; }
};

using KJob = Int8MatVec<KActivations>;

void quantize_superblock(const float* x, const int* order, int8_t* q, float* d_out, int16_t* sum16, int16_t* sum32) {
  __m512 amax = _mm512_setzero_ps();
  for (int i = 0; i < kSuper; i += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  const float m = _mm512_reduce_max_ps(amax);
  if (m == 0.0f) {
    __builtin_memset(q, 0, kSuper);
    __builtin_memset(sum16, 0, 16 * sizeof(int16_t));
    __builtin_memset(sum32, 0, 8 * sizeof(int16_t));
    *d_out = 0.0f;
    return;
  }
  const float iscale = 127.0f / m;
  const __m512 vs = _mm512_set1_ps(iscale);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int i = 0; i < kSuper; i += 16) {
    // cvt rounds half to even (the default MXCSR mode), as llama.cpp's nearest_int
    const __m512i v = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i c = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
    int8_t* to = q + 32 * order[i / 32] + i % 32;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to), _mm512_cvtepi32_epi8(c));
    sum16[i / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(c));
  }
  for (int g = 0; g < 8; ++g) sum32[g] = static_cast<int16_t>(sum16[2 * g] + sum16[2 * g + 1]);
  *d_out = 1.0f / iscale;
}

// One activation column per unit.
void quantize_range(void* user, int64_t begin, int64_t end, int) {
  const KJob& jb = *static_cast<const KJob*>(user);
  const MatMulJob& j = *jb.job;
  const KActivations& a = jb.act;
  for (int64_t u = begin; u < end; ++u) {
    const int64_t col = u % j.n, batch = u / j.n;
    const float* x = reinterpret_cast<const float*>(j.x + static_cast<uint64_t>(col) * j.x_nb1 +
                                                    static_cast<uint64_t>(batch % j.c2) * j.x_nb2 +
                                                    static_cast<uint64_t>(batch / j.c2) * j.x_nb3);
    for (int64_t b = 0; b < a.blocks; ++b) {
      const int64_t block = u * a.blocks + b;
      quantize_superblock(x + b * kSuper, a.order, a.q + block * kSuper, a.d + block, a.sum16 + block * 16, a.sum32 + block * 8);
    }
  }
}

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// Q4_K / Q5_K scales and mins (6 bits each, 12 bytes): the 8 group scales as
// int16 (lanes 0..7 of the result, the rest 0); `mins` gets the 8 mins as
// int16.
inline __m512i k4_scales_mins(const uint8_t* s, __m128i& mins) {
  uint32_t a, b, c;
  __builtin_memcpy(&a, s, 4);
  __builtin_memcpy(&b, s + 4, 4);
  __builtin_memcpy(&c, s + 8, 4);
  const uint64_t sc = (a & 0x3F3F3F3Fu) | static_cast<uint64_t>((c & 0x0F0F0F0Fu) | ((a >> 6) & 0x03030303u) << 4) << 32;
  const uint64_t mn =
      (b & 0x3F3F3F3Fu) | static_cast<uint64_t>(((c >> 4) & 0x0F0F0F0Fu) | ((b >> 6) & 0x03030303u) << 4) << 32;
  const __m128i both = _mm_set_epi64x(static_cast<long long>(mn), static_cast<long long>(sc));
  mins = _mm_cvtepu8_epi16(_mm_srli_si128(both, 8));
  return _mm512_zextsi128_si512(_mm_cvtepu8_epi16(both));
}

// The group of int16 lane i (codes 2 i, 2 i + 1) of Q4_K / Q5_K code vector
// v (kPairOrder: group 4 (v / 2) + v % 2 in bytes 0..31, that + 2 in bytes
// 32..63).
constexpr int16_t pair_group(int v, int i) { return static_cast<int16_t>(4 * (v / 2) + v % 2 + (i < 16 ? 0 : 2)); }
// int16 lane i of Q6_K code vector v (values 64 v + 2 i, + 1): group 4 v + i / 8.
constexpr int16_t quad_group(int v, int i) { return static_cast<int16_t>(4 * v + i / 8); }

template <int16_t (*F)(int, int)>
struct GroupIndex {
  alignas(64) int16_t lane[4][32];
  constexpr GroupIndex() : lane{} {
    for (int v = 0; v < 4; ++v)
      for (int i = 0; i < 32; ++i) lane[v][i] = F(v, i);
  }
};
constexpr GroupIndex<pair_group> kPairGroups16{};
constexpr GroupIndex<quad_group> kQuadGroups16{};

// One weight block decoded for every column: the 4 vectors of 64 unsigned
// codes in the activation order, and per vector the int16 sub-block scale of
// each pair of codes.
struct KBlock {
  __m512i codes[4];
  __m512i scale[4];
  float d;
  // Q4_K / Q5_K: the block sum is d * int - dmin * sum_g min_g * sum32_g.
  float dmin;
  __m128i mins;  // 8 int16
  // Q6_K: the block sum is d * (int - 32 * sum_g scale_g * sum16_g).
  __m256i scales16;  // 16 int16
};

// x = d * scale_g * q - dmin * min_g, q = 4 bits, groups of 32.
struct IntQ4_K {
  static constexpr int kBytes = sizeof(BlockQ4_K);
  static constexpr bool kMins = true;
  static constexpr const int* kOrder = kPairOrder;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ4_K*>(p);
    KBlock k;
    const __m512i sc = k4_scales_mins(b.scales, k.mins);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int h = 0; h < 2; ++h) {
      const __m512i raw = load512(b.qs + 64 * h);
      k.codes[2 * h] = _mm512_and_si512(raw, m4);
      k.codes[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
    }
    for (int v = 0; v < 4; ++v) k.scale[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kPairGroups16.lane[v]), sc);
    k.d = half_to_float(b.d);
    k.dmin = half_to_float(b.dmin);
    return k;
  }
};

// Q4_K plus a fifth bit: bit g of qh[l] for value l of group g.
struct IntQ5_K {
  static constexpr int kBytes = sizeof(BlockQ5_K);
  static constexpr bool kMins = true;
  static constexpr const int* kOrder = kPairOrder;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ5_K*>(p);
    KBlock k;
    const __m512i sc = k4_scales_mins(b.scales, k.mins);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh)));
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
    for (int v = 0; v < 4; ++v) {
      // bytes 0..31: group g = 4 (v / 2) + v % 2 (bit g), bytes 32..63: g + 2
      const int g = 4 * (v / 2) + v % 2;
      const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << g)),
                                             _mm256_set1_epi8(static_cast<char>(1 << (g + 2))), 1);
      const __m512i raw = load512(b.qs + 64 * (v / 2));
      const __m512i low = _mm512_and_si512(v % 2 ? _mm512_srli_epi16(raw, 4) : raw, m4);
      k.codes[v] = _mm512_mask_add_epi8(low, _mm512_test_epi8_mask(qh, bit), low, sixteen);
      k.scale[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kPairGroups16.lane[v]), sc);
    }
    k.d = half_to_float(b.d);
    k.dmin = half_to_float(b.dmin);
    return k;
  }
};

// x = d * scale_g * (q - 32), q = 4 bits of ql + 2 of qh, groups of 16.
// Per half h (values 128 h ..): ql[64 h + l] holds values l (low nibble)
// and l + 64 (high), ql[64 h + 32 + l] values l + 32 and l + 96; qh[32 h + l]
// bits 0-1, 2-3, 4-5, 6-7 are the high bits of values l, l + 32, l + 64,
// l + 96.
struct IntQ6_K {
  static constexpr int kBytes = sizeof(BlockQ6_K);
  static constexpr bool kMins = false;
  static constexpr const int* kOrder = kNaturalOrder;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ6_K*>(p);
    KBlock k;
    const __m128i sc8 = load128(b.scales);
    k.scales16 = _mm256_cvtepi8_epi16(sc8);
    const __m512i sc = _mm512_zextsi256_si512(k.scales16);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = load512(b.ql + 64 * h);
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
      // [qh, qh >> 2]: bits 4-5 of a byte of (hi << 4) are the high bits of
      // values l and l + 32, bits 4-5 of hi those of l + 64 and l + 96
      const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
      k.codes[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_slli_epi16(hi, 4), m30));
      k.codes[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_and_si512(hi, m30));
    }
    for (int v = 0; v < 4; ++v) k.scale[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kQuadGroups16.lane[v]), sc);
    k.d = half_to_float(b.d);
    return k;
  }
};

// Software prefetch distance along a weight row, in bytes: about the
// 4.6 KB that the Q4_0 mat-vec measured best (matmul_avx512_vnni.cpp).
constexpr int64_t kPrefetchBytes = 4608;

template <class T>
struct KRows {
  using Activations = KActivations;
  using Column = KColumn;

  template <int RN, int RR>
  static void rows(const std::byte* const* w, const KColumn* x, int64_t blocks, float (&out)[RR][RN]) {
    __m512 acc[RR][RN];
    __m128 accm[RR][RN];
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c) {
        acc[r][c] = _mm512_setzero_ps();
        accm[r][c] = _mm_setzero_ps();
      }
    for (int64_t b = 0; b < blocks; ++b) {
      #pragma GCC unroll 16
      for (int r = 0; r < RR; ++r) {
        const std::byte* p = w[r] + static_cast<uint64_t>(b) * T::kBytes;
        const char* ahead = reinterpret_cast<const char*>(p) + kPrefetchBytes;
        #pragma GCC unroll 4
        for (int line = 0; line < T::kBytes; line += 64) _mm_prefetch(ahead + line, _MM_HINT_T1);
        const KBlock k = T::load(p);
        #pragma GCC unroll 16
        for (int c = 0; c < RN; ++c) {
          const int8_t* xq = x[c].q + b * kSuper;
          __m512i sum = _mm512_setzero_si512();
          // |code pair sums| <= 2 * 63 * 127: no vpmaddubsw saturation
          #pragma GCC unroll 4
          for (int v = 0; v < 4; ++v)
            sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(k.codes[v], load512(xq + 64 * v)), k.scale[v]);
          const float dx = x[c].d[b];
          if constexpr (T::kMins) {
            const __m128i mins = _mm_madd_epi16(k.mins, load128(x[c].sum32 + b * 8));
            accm[r][c] = _mm_fmadd_ps(_mm_cvtepi32_ps(mins), _mm_set1_ps(k.dmin * dx), accm[r][c]);
          } else {
            const __m256i offset = _mm256_madd_epi16(
                k.scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[c].sum16 + b * 16)));
            sum = _mm512_sub_epi32(sum, _mm512_zextsi256_si512(_mm256_slli_epi32(offset, 5)));
          }
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(k.d * dx), acc[r][c]);
        }
      }
    }
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c) {
        float s = _mm512_reduce_add_ps(acc[r][c]);
        if constexpr (T::kMins) {
          const __m128 m = accm[r][c];
          const __m128 m2 = _mm_add_ps(m, _mm_movehl_ps(m, m));
          s -= _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
        }
        out[r][c] = s;
      }
  }
};

template <class T>
void run_kquant_int8(const MatMulJob& j, ThreadPool& pool) {
  if (j.n > kFusedMaxN) {  // prefill: the float panels
    kquant_kernel(j.dtype)(j, pool);
    return;
  }
  KJob jb{};
  jb.job = &j;
  jb.geo = geometry_of(j);
  const int64_t tasks = jb.geo.row_groups * j.c2 * j.c3;
  if (tasks == 0 || j.n == 0) return;
  jb.act.blocks = j.k / kSuper;  // K-quant rows are whole blocks
  jb.act.columns = j.n * j.c2 * j.c3;
  jb.act.order = T::kOrder;
  const size_t blocks = static_cast<size_t>(jb.act.blocks * jb.act.columns);
  // One allocation: codes, scales, sums (raw operator new: no library
  // template is instantiated in this AVX-512 unit).
  const size_t bytes = blocks * (kSuper + sizeof(float) + 24 * sizeof(int16_t));
  void* mem = ::operator new(bytes, std::align_val_t{64});
  jb.act.q = static_cast<int8_t*>(mem);
  jb.act.d = reinterpret_cast<float*>(jb.act.q + blocks * kSuper);
  jb.act.sum16 = reinterpret_cast<int16_t*>(jb.act.d + blocks);
  jb.act.sum32 = jb.act.sum16 + blocks * 16;
  pool.parallel_for(jb.act.columns, quantize_range, &jb);
  pool.parallel_for(tasks, int_range<KRows<T>>, &jb);
  ::operator delete(mem, std::align_val_t{64});
}

}  // namespace

MatMulFn kquant_vnni_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_Q4_K: return run_kquant_int8<IntQ4_K>;
    case TESSERA_DTYPE_Q5_K: return run_kquant_int8<IntQ5_K>;
    case TESSERA_DTYPE_Q6_K: return run_kquant_int8<IntQ6_K>;
    default: return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
