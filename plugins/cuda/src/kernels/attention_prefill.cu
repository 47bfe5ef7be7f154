// ATTENTION for many query tokens (prefill), FlashAttention-style: a block
// takes kQueries consecutive queries of one head and walks the cached keys
// in tiles of 32 positions staged in shared memory (converted to float from
// the F32/F16/Q8_0 cache once per tile), with an online softmax per query
// (running max m, sum l, accumulator rescaled by e^(m_old - m_new)) and the
// causal mask (query t sees positions 0 .. first + t). Lane i of a warp
// scores key i of the tile; each lane accumulates head dims lane + 32j.
// No fixed maximum context: only the tile lives in shared memory.
#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kQueriesPerWarp = 4;
constexpr int kQueries = kWarps * kQueriesPerWarp;
constexpr int kTile = kWarp;  // keys per tile: one per lane
constexpr int kPerLane = static_cast<int>(kMaxHeadDim / kWarp);

size_t shared_bytes(int64_t D) {
  // q tile, K tile padded to D + 1 floats per key (lane-per-key reads stay
  // off each other's banks), V tile.
  return static_cast<size_t>(kQueries * D + kTile * (D + 1) + kTile * D) * sizeof(float);
}

template <int KV>
__global__ void __launch_bounds__(kWarps* kWarp) attention_tiles(AttentionArgs a) {
  extern __shared__ float smem[];
  const int64_t D = a.head_dim;
  float* q_s = smem;
  float* k_s = q_s + kQueries * D;
  float* v_s = k_s + kTile * (D + 1);
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

  float m[kQueriesPerWarp], l[kQueriesPerWarp], acc[kQueriesPerWarp][kPerLane];
#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) acc[i][j] = 0.0f;
  }

  for (int64_t tile = 0; tile < kv_end; tile += kTile) {
    __syncthreads();  // the previous tile is consumed (and q_s written, first time)
    for (int64_t i = threadIdx.x; i < kTile * D; i += blockDim.x) {
      const int64_t key = i / D, d = i % D, p = tile + key;
      float kv = 0.0f, vv = 0.0f;
      if (p < kv_end) {
        kv = kv_element<KV>(a.k + static_cast<uint64_t>(p) * a.k_nb2 + static_cast<uint64_t>(kvh) * a.k_nb1, d);
        vv = kv_element<KV>(a.v + static_cast<uint64_t>(p) * a.v_nb2 + static_cast<uint64_t>(kvh) * a.v_nb1, d);
      }
      k_s[key * (D + 1) + d] = kv;
      v_s[key * D + d] = vv;
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < kQueriesPerWarp; ++i) {
      const int qi = warp * kQueriesPerWarp + i;
      const int64_t t = t0 + qi;
      if (t >= a.n_tokens) continue;  // warp-uniform
      const int64_t visible = first + t + 1;
      const int64_t p = tile + lane;
      float score = -INFINITY;
      if (p < visible && p < kv_end) {
        float dot = 0.0f;
        const float* qrow = q_s + qi * D;
        const float* krow = k_s + lane * (D + 1);
        for (int64_t d = 0; d < D; ++d) dot += qrow[d] * krow[d];
        score = dot * a.scale;
      }
      const float m_new = fmaxf(m[i], warp_max(score));
      if (m_new == -INFINITY) continue;  // nothing visible yet (warp-uniform)
      const float corr = expf(m[i] - m_new);
      const float w = score == -INFINITY ? 0.0f : expf(score - m_new);
      l[i] = l[i] * corr + warp_sum(w);
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) acc[i][j] *= corr;
      for (int key = 0; key < kTile; ++key) {
        const float wk = __shfl_sync(0xffffffffu, w, key);
        if (wk == 0.0f) continue;  // masked key (uniform across the warp)
        const float* vrow = v_s + key * D;
#pragma unroll
        for (int j = 0; j < kPerLane; ++j) {
          const int64_t d = lane + static_cast<int64_t>(j) * kWarp;
          if (d < D) acc[i][j] += wk * vrow[d];
        }
      }
      m[i] = m_new;
    }
  }

#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    const int64_t t = t0 + warp * kQueriesPerWarp + i;
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
  switch (a.kv_dtype) {
    case TESSERA_DTYPE_F32: return launch_tiles<TESSERA_DTYPE_F32>(a, stream);
    case TESSERA_DTYPE_F16: return launch_tiles<TESSERA_DTYPE_F16>(a, stream);
    case TESSERA_DTYPE_Q8_0: return launch_tiles<TESSERA_DTYPE_Q8_0>(a, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace tessera::cuda
