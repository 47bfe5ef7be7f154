// ATTENTION for many query tokens (prefill), FlashAttention-style: a block
// takes kQueries consecutive queries of one head and walks the cached keys
// in tiles of 32 positions staged in shared memory (converted to float from
// the F32/F16/Q8_0 cache once per tile), with an online softmax per query
// (running max m, sum l, accumulator rescaled by e^(m_old - m_new)) and the
// causal mask (query t sees positions 0 .. first + t). A warp takes 4
// queries together: lane i scores key i of the tile for all 4 (each K
// element read once, as float4 where D % 4 == 0), then each V element read
// serves all 4; each lane accumulates head dims lane + 32j.
// No fixed maximum context: only the tile lives in shared memory.
#include "attention_kv.cuh"
#include "attention_prefill_mma.hpp"
#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kQueriesPerWarp = 4;
constexpr int kQueries = kWarps * kQueriesPerWarp;
constexpr int kTile = kWarp;  // keys per tile: one per lane
constexpr int kPerLane = static_cast<int>(kMaxHeadDim / kWarp);
constexpr int64_t kMmaMinQueries = 16;  // one WMMA tile of queries

// K rows are padded to D + 4 floats: lane-per-key float4 reads then fall on
// distinct banks within each quarter-warp phase, and stay 16-byte aligned
// when D is a multiple of 4.
__host__ __device__ constexpr int64_t k_stride(int64_t D) { return D + 4; }

size_t shared_bytes(int64_t D) {
  // q tile, K tile (padded rows), V tile.
  return static_cast<size_t>(kQueries * D + kTile * k_stride(D) + kTile * D) * sizeof(float);
}

// dot[i] += sum_d q_i[d] * k[d] for the warp's kQueriesPerWarp queries, d in
// ascending order (the order of a plain loop). Each K element is read from
// shared memory once for all of them; with float4 reads when D allows.
__device__ __forceinline__ void score_dots(const float* q, const float* k, int64_t D, float (&dot)[kQueriesPerWarp]) {
  if (D % 4 == 0) {
    for (int64_t d = 0; d < D; d += 4) {
      const float4 kv = *reinterpret_cast<const float4*>(k + d);
#pragma unroll
      for (int i = 0; i < kQueriesPerWarp; ++i) {
        const float4 qv = *reinterpret_cast<const float4*>(q + i * D + d);  // the same address on every lane
        dot[i] += qv.x * kv.x;
        dot[i] += qv.y * kv.y;
        dot[i] += qv.z * kv.z;
        dot[i] += qv.w * kv.w;
      }
    }
  } else {
    for (int64_t d = 0; d < D; ++d) {
      const float kv = k[d];
#pragma unroll
      for (int i = 0; i < kQueriesPerWarp; ++i) dot[i] += q[i * D + d] * kv;
    }
  }
}

template <int KV>
__global__ void __launch_bounds__(kWarps* kWarp) attention_tiles(AttentionArgs a) {
  extern __shared__ __align__(16) float smem[];
  const int64_t D = a.head_dim, KS = k_stride(D);
  float* q_s = smem;
  float* k_s = q_s + kQueries * D;
  float* v_s = k_s + kTile * KS;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * kQueries, h = blockIdx.y;
  const int64_t kvh = h / (a.n_head / a.n_kv_head);
  const int64_t first = a.dyn->first;
  const int64_t t_end = t0 + kQueries < a.n_tokens ? t0 + kQueries : a.n_tokens;
  int64_t kv_end = first + t_end;  // what the block's last query sees
  if (kv_end > a.n_ctx) kv_end = a.n_ctx;

  for (int64_t i = threadIdx.x; i < kQueries * D; i += blockDim.x) {
    const int64_t qi = i / D, d = i % D, t = t0 + qi;
    q_s[i] = t < a.n_tokens ? reinterpret_cast<const float*>(a.q + static_cast<uint64_t>(h) * a.q_nb1 +
                                                             static_cast<uint64_t>(t) * a.q_nb2)[d]
                            : 0.0f;
  }

  // The warp's queries are t0 + warp * kQueriesPerWarp + i; they are handled
  // together so that each K and V element read from shared memory serves all
  // of them. A query past n_tokens, or with nothing visible yet, gets only
  // -inf scores: its state does not change (m = -inf, l = 0, acc = 0).
  float m[kQueriesPerWarp], l[kQueriesPerWarp], acc[kQueriesPerWarp][kPerLane];
#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) acc[i][j] = 0.0f;
  }
  const int64_t tw = t0 + warp * kQueriesPerWarp;  // the warp's first query

  for (int64_t tile = 0; tile < kv_end; tile += kTile) {
    __syncthreads();  // the previous tile is consumed (and q_s written, first time)
    stage_kv_tile<KV>(a, kvh, tile, kTile, kv_end, k_s, KS, v_s, D);
    __syncthreads();
    if (tw >= a.n_tokens) continue;  // warp-uniform; no barrier until the next tile's first

    // Lane i scores key tile + i for each query (causal: query t sees
    // positions 0 .. first + t).
    const int64_t p = tile + lane;
    float dot[kQueriesPerWarp] = {};
    if (p < kv_end) score_dots(q_s + (tw - t0) * D, k_s + lane * KS, D, dot);
    float w[kQueriesPerWarp];
#pragma unroll
    for (int i = 0; i < kQueriesPerWarp; ++i) {
      const int64_t t = tw + i;
      const bool seen = t < a.n_tokens && p < first + t + 1 && p < kv_end;
      const float score = seen ? dot[i] * a.scale : -INFINITY;
      const float m_new = fmaxf(m[i], warp_max(score));
      w[i] = 0.0f;
      if (m_new == -INFINITY) continue;  // nothing visible yet (warp-uniform)
      const float corr = expf(m[i] - m_new);
      w[i] = score == -INFINITY ? 0.0f : expf(score - m_new);
      l[i] = l[i] * corr + warp_sum(w[i]);
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) acc[i][j] *= corr;
      m[i] = m_new;
    }
    for (int key = 0; key < kTile; ++key) {
      float wk[kQueriesPerWarp];
      bool any = false;
#pragma unroll
      for (int i = 0; i < kQueriesPerWarp; ++i) {
        wk[i] = __shfl_sync(0xffffffffu, w[i], key);
        any = any || wk[i] != 0.0f;
      }
      if (!any) continue;  // a key masked for every query (uniform across the warp)
      const float* vrow = v_s + key * D;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int64_t d = lane + static_cast<int64_t>(j) * kWarp;
        if (d < D) {
          const float vv = vrow[d];
#pragma unroll
          for (int i = 0; i < kQueriesPerWarp; ++i)
            if (wk[i] != 0.0f) acc[i][j] += wk[i] * vv;  // a masked key adds nothing, as before
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    const int64_t t = tw + i;
    if (t >= a.n_tokens) continue;
    auto* out = reinterpret_cast<float*>(a.dst + static_cast<uint64_t>(h) * a.dst_nb1 + static_cast<uint64_t>(t) * a.dst_nb2);
    const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + static_cast<int64_t>(j) * kWarp;
      if (d < D) out[d] = acc[i][j] * inv;
    }
  }
}

template <int KV>
cudaError_t launch_tiles(const AttentionArgs& a, cudaStream_t stream) {
  const size_t bytes = shared_bytes(a.head_dim);
  if (bytes > 48 * 1024)  // above the default, shared memory must be opted into
    if (cudaError_t e = cudaFuncSetAttribute(attention_tiles<KV>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(bytes));
        e != cudaSuccess)
      return e;
  const dim3 grid(static_cast<unsigned>((a.n_tokens + kQueries - 1) / kQueries), static_cast<unsigned>(a.n_head));
  attention_tiles<KV><<<grid, kWarps * kWarp, bytes, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_attention_prefill(const AttentionArgs& a, cudaStream_t stream) {
  if (a.n_tokens == 0 || a.n_head == 0) return cudaSuccess;
  if (a.head_dim > kMaxHeadDim || a.n_head > 65535 || (a.n_tokens + kQueries - 1) / kQueries > 0x7fffffff)
    return cudaErrorInvalidValue;
  // Tensor cores from a full warp tile of queries on (attention_prefill_mma.cu);
  // fewer queries, other head dims, or too little shared memory: this kernel.
  if (a.n_tokens >= kMmaMinQueries && attention_prefill_mma_fits(a)) {
    const cudaError_t e = launch_attention_prefill_mma(a, stream);
    if (e != cudaErrorNotSupported) return e;
  }
  return with_kv_dtype(a.kv_dtype, [&](auto kv) { return launch_tiles<decltype(kv)::value>(a, stream); });
}

}  // namespace tessera::cuda
