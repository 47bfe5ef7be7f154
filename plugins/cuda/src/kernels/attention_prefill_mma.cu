// ATTENTION for many query tokens (prefill) on tensor cores, FlashAttention-2
// style with WMMA (f16 inputs, f32 accumulation; sm_70+). A block takes 64
// queries of one head, 16 per warp, and walks the cached keys in tiles of 64
// positions converted to f16 in shared memory (from an F32, F16 or Q8_0
// cache). Per tile a warp computes its 16 x 64 scores S = Q K^T on tensor
// cores, runs the online softmax on them row by row (running max m, sum l;
// causal mask: query t sees positions 0 .. first + t), rescales its output
// rows by e^(m_old - m_new) and adds P V on tensor cores. The output rows
// live in shared memory (f32) between tiles: WMMA does not say which lane
// holds which row of a fragment, so row-wise rescaling happens there.
// Q is scaled before it is rounded to f16, as llama.cpp's FlashAttention
// does; the tolerance against the float reference is that of f16 inputs.
// Taken for head dims that are a multiple of 16 up to 128 when the device
// has the shared memory (launch_attention_prefill falls back otherwise).
#include <cuda_fp16.h>
#include <mma.h>

#include "attention_kv.cuh"
#include "attention_prefill_mma.hpp"
#include "common.cuh"

namespace tessera::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kWarps = 4;
constexpr int kRows = 16;                  // queries per warp: one WMMA tile
constexpr int kQueries = kWarps * kRows;   // per block
constexpr int kKeys = 64;                  // cached positions per tile
constexpr int kScoreStride = kKeys + 4;    // floats per score row (a multiple of 4, as WMMA needs)
constexpr int kProbStride = kKeys + 8;     // halves per probability row (a multiple of 8)

// Row strides padded against bank conflicts; WMMA needs multiples of 8
// halves / 4 floats, and every tile it loads starts 32-byte aligned.
__host__ __device__ constexpr int64_t half_stride(int64_t D) { return D + 8; }
__host__ __device__ constexpr int64_t out_stride(int64_t D) { return D + 4; }

// Shared memory: Q, K and V tiles (f16), then per warp its scores (f32),
// probabilities (f16) and output rows (f32).
size_t shared_bytes(int64_t D) {
  return static_cast<size_t>((kQueries + 2 * kKeys) * half_stride(D)) * sizeof(__half) +
         static_cast<size_t>(kWarps * kRows * kScoreStride) * sizeof(float) +
         static_cast<size_t>(kWarps * kRows * kProbStride) * sizeof(__half) +
         static_cast<size_t>(kWarps * kRows * out_stride(D)) * sizeof(float);
}

template <int KV>
__global__ void __launch_bounds__(kWarps* kWarp) attention_mma(AttentionArgs a) {
  extern __shared__ __align__(128) unsigned char smem_mma[];
  const int64_t D = a.head_dim, HS = half_stride(D), OS = out_stride(D);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  __half* q_s = reinterpret_cast<__half*>(smem_mma);
  __half* k_s = q_s + kQueries * HS;
  __half* v_s = k_s + kKeys * HS;
  float* s_w = reinterpret_cast<float*>(v_s + kKeys * HS) + warp * kRows * kScoreStride;
  __half* p_w = reinterpret_cast<__half*>(reinterpret_cast<float*>(v_s + kKeys * HS) + kWarps * kRows * kScoreStride) +
                warp * kRows * kProbStride;
  float* o_w = reinterpret_cast<float*>(reinterpret_cast<__half*>(reinterpret_cast<float*>(v_s + kKeys * HS) +
                                                                  kWarps * kRows * kScoreStride) +
                                        kWarps * kRows * kProbStride) +
               warp * kRows * OS;

  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * kQueries, h = blockIdx.y;
  const int64_t kvh = h / (a.n_head / a.n_kv_head);
  const int64_t first = a.dyn->first;
  const int64_t t_end = t0 + kQueries < a.n_tokens ? t0 + kQueries : a.n_tokens;
  int64_t kv_end = first + t_end;  // what the block's last query sees
  if (kv_end > a.n_ctx) kv_end = a.n_ctx;
  const int64_t tw = t0 + warp * kRows;  // the warp's first query
  const int64_t tw_end = tw + kRows < a.n_tokens ? tw + kRows : a.n_tokens;
  const int64_t warp_kv_end = first + tw_end < kv_end ? first + tw_end : kv_end;  // what its last query sees

  for (int64_t i = threadIdx.x; i < kQueries * D; i += blockDim.x) {
    const int64_t qi = i / D, d = i % D, t = t0 + qi;
    const float q = t < a.n_tokens ? reinterpret_cast<const float*>(a.q + static_cast<uint64_t>(h) * a.q_nb1 +
                                                                    static_cast<uint64_t>(t) * a.q_nb2)[d]
                                   : 0.0f;
    q_s[qi * HS + d] = __float2half_rn(q * a.scale);
  }
  for (int64_t i = lane; i < kRows * D; i += kWarp) o_w[(i / D) * OS + i % D] = 0.0f;
  float m[kRows], l[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }

  for (int64_t tile = 0; tile < kv_end; tile += kKeys) {
    __syncthreads();  // the previous tile is consumed (and q_s written, first time)
    stage_kv_tile<KV>(a, kvh, tile, kKeys, kv_end, k_s, HS, v_s, HS);
    __syncthreads();
    if (tw >= a.n_tokens || tile >= warp_kv_end) continue;  // warp-uniform; no barrier until the next tile's first

    // S = Q K^T for the warp's 16 queries and the tile's 64 keys.
    for (int n = 0; n < kKeys / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s;
      wmma::fill_fragment(s, 0.0f);
      for (int64_t kk = 0; kk < D; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> qa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> kb;
        wmma::load_matrix_sync(qa, q_s + warp * kRows * HS + kk, static_cast<unsigned>(HS));
        wmma::load_matrix_sync(kb, k_s + n * 16 * HS + kk, static_cast<unsigned>(HS));  // K rows = K^T columns
        wmma::mma_sync(s, qa, kb, s);
      }
      wmma::store_matrix_sync(s_w + n * 16, s, kScoreStride, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax per query row; lane i takes keys i and i + 32. Unrolled
    // so m[] and l[] stay in registers.
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t t = tw + r;
      int64_t limit = first + t + 1;  // positions < limit are visible to query t
      if (limit > kv_end) limit = kv_end;
      const int64_t p0 = tile + lane, p1 = p0 + 32;
      const bool live = t < a.n_tokens;
      const float x0 = live && p0 < limit ? s_w[r * kScoreStride + lane] : -INFINITY;
      const float x1 = live && p1 < limit ? s_w[r * kScoreStride + lane + 32] : -INFINITY;
      const float m_new = fmaxf(m[r], warp_max(fmaxf(x0, x1)));
      float corr = 1.0f, e0 = 0.0f, e1 = 0.0f;
      if (m_new != -INFINITY) {  // else nothing visible yet: the row stays zero (warp-uniform)
        corr = expf(m[r] - m_new);
        e0 = x0 == -INFINITY ? 0.0f : expf(x0 - m_new);
        e1 = x1 == -INFINITY ? 0.0f : expf(x1 - m_new);
      }
      l[r] = l[r] * corr + warp_sum(e0 + e1);
      m[r] = m_new;
      p_w[r * kProbStride + lane] = __float2half_rn(e0);
      p_w[r * kProbStride + lane + 32] = __float2half_rn(e1);
      if (corr != 1.0f)
        for (int64_t d = lane; d < D; d += kWarp) o_w[r * OS + d] *= corr;
    }
    __syncwarp();

    // O += P V, 16 output columns at a time over the tile's 64 keys.
    for (int64_t j = 0; j < D; j += 16) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
      wmma::load_matrix_sync(o, o_w + j, static_cast<unsigned>(OS), wmma::mem_row_major);
      for (int kk = 0; kk < kKeys; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> vb;
        wmma::load_matrix_sync(pa, p_w + kk, kProbStride);
        wmma::load_matrix_sync(vb, v_s + kk * HS + j, static_cast<unsigned>(HS));
        wmma::mma_sync(o, pa, vb, o);
      }
      wmma::store_matrix_sync(o_w + j, o, static_cast<unsigned>(OS), wmma::mem_row_major);
    }
    __syncwarp();
  }

  if (tw >= a.n_tokens) return;
  __syncwarp();
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t t = tw + r;
    if (t >= a.n_tokens) break;
    auto* out = reinterpret_cast<float*>(a.dst + static_cast<uint64_t>(h) * a.dst_nb1 + static_cast<uint64_t>(t) * a.dst_nb2);
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    for (int64_t d = lane; d < D; d += kWarp) out[d] = o_w[r * OS + d] * inv;
  }
}

template <int KV>
cudaError_t launch_kv(const AttentionArgs& a, cudaStream_t stream) {
  const size_t bytes = shared_bytes(a.head_dim);
  if (cudaError_t e = cudaFuncSetAttribute(attention_mma<KV>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(bytes));
      e != cudaSuccess) {
    (void)cudaGetLastError();  // not an error of the stream: the caller falls back
    return cudaErrorNotSupported;
  }
  const dim3 grid(static_cast<unsigned>((a.n_tokens + kQueries - 1) / kQueries), static_cast<unsigned>(a.n_head));
  attention_mma<KV><<<grid, kWarps * kWarp, bytes, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

bool attention_prefill_mma_fits(const AttentionArgs& a) {
  return a.head_dim % 16 == 0 && a.head_dim <= 128 && (a.n_tokens + kQueries - 1) / kQueries <= 0x7fffffff &&
         a.n_head <= 65535;
}

cudaError_t launch_attention_prefill_mma(const AttentionArgs& a, cudaStream_t stream) {
  return with_kv_dtype(a.kv_dtype, [&](auto kv) { return launch_kv<decltype(kv)::value>(a, stream); });
}

}  // namespace tessera::cuda
