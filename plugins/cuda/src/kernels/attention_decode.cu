// ATTENTION for a few query tokens (decode): split-K over the KV cache.
// The cache length C is cut into chunks of at least kMinChunk positions (at
// most kMaxSplits chunks, bounding the scratch), one block per (chunk, head,
// token); the number of chunks follows C (not the number of
// valid positions), so the launch is identical every step and a captured CUDA
// graph replays it: blocks past the causal limit (read from NodeDyn) write an
// empty partial. Inside a block each warp takes every 4th position with an
// online softmax; the warps are merged, then attention_combine merges the
// chunks: out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M).
#include "attention_kv.cuh"
#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {
namespace {

constexpr int kWarps = 4;
// 64 positions a chunk: at a short depth the work is spread over 4 blocks
// per head per 256 positions instead of 1 (each warp walks 16 positions).
constexpr int64_t kMinChunk = 64;
constexpr int64_t kMaxSplits = 1024;
constexpr int kPerLane = static_cast<int>(kMaxHeadDim / kWarp);

int64_t chunk_for(const AttentionArgs& a) {
  const int64_t even = (a.n_ctx + kMaxSplits - 1) / kMaxSplits;
  return even > kMinChunk ? even : kMinChunk;
}
int64_t splits_for(const AttentionArgs& a) { return (a.n_ctx + chunk_for(a) - 1) / chunk_for(a); }

template <int KV>
__global__ void __launch_bounds__(kWarps* kWarp) attention_split(AttentionArgs a, int64_t n_splits, int64_t chunk) {
  __shared__ float q_s[kMaxHeadDim];
  __shared__ float warp_m[kWarps], warp_l[kWarps];
  __shared__ float warp_acc[kWarps][kMaxHeadDim];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t s = blockIdx.x, h = blockIdx.y, t = blockIdx.z, D = a.head_dim;
  const int64_t kvh = h / (a.n_head / a.n_kv_head);
  const NodeDyn dyn = *a.dyn;
  int64_t visible = static_cast<int64_t>(dyn.first) + t + 1;  // causal: positions 0 .. first + t
  if (visible > a.n_ctx) visible = a.n_ctx;                  // validated on the host; never read past the cache
  const int64_t start = s * chunk, end = start + chunk < visible ? start + chunk : visible;

  const auto* q = reinterpret_cast<const float*>(a.q + static_cast<uint64_t>(h) * a.q_nb1 + static_cast<uint64_t>(t) * a.q_nb2);
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) q_s[d] = q[d];
  __syncthreads();

  float m = -INFINITY, l = 0.0f, acc[kPerLane];
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) acc[j] = 0.0f;
  for (int64_t p = start + warp; p < end; p += kWarps) {
    const uint8_t* krow = a.k + static_cast<uint64_t>(p) * a.k_nb2 + static_cast<uint64_t>(kvh) * a.k_nb1;
    const uint8_t* vrow = a.v + static_cast<uint64_t>(p) * a.v_nb2 + static_cast<uint64_t>(kvh) * a.v_nb1;
    // The K and V elements are all loaded before the score's warp reduction,
    // so a position costs one memory round trip, not two (the V loads cannot
    // be moved above the shuffles by the compiler).
    float k_el[kPerLane], v_el[kPerLane];
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + static_cast<int64_t>(j) * kWarp;
      k_el[j] = d < D ? kv_element<KV>(krow, d) : 0.0f;
      v_el[j] = d < D ? kv_element<KV>(vrow, d) : 0.0f;
    }
    float dot = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + static_cast<int64_t>(j) * kWarp;
      if (d < D) dot += q_s[d] * k_el[j];
    }
    const float score = warp_sum(dot) * a.scale;
    const float m_new = fmaxf(m, score);
    const float corr = expf(m - m_new);  // 0 for the first position (m = -inf)
    const float w = expf(score - m_new);
    l = l * corr + w;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) acc[j] = acc[j] * corr + w * v_el[j];
    m = m_new;
  }
  if (lane == 0) {
    warp_m[warp] = m;
    warp_l[warp] = l;
  }
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) {
    const int64_t d = lane + static_cast<int64_t>(j) * kWarp;
    if (d < D) warp_acc[warp][d] = acc[j];
  }
  __syncthreads();

  float M = -INFINITY;
  for (int w = 0; w < kWarps; ++w)
    if (warp_l[w] > 0.0f) M = fmaxf(M, warp_m[w]);
  float* out = a.partials + ((t * a.n_head + h) * n_splits + s) * (D + 2);
  float L = 0.0f;
  for (int w = 0; w < kWarps; ++w)
    if (warp_l[w] > 0.0f) L += warp_l[w] * expf(warp_m[w] - M);
  // A chunk past the causal limit (L = 0) writes only (M, L): the combine
  // never reads its values, and most chunks of a long cache are such.
  if (L > 0.0f)
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      float sum = 0.0f;
      for (int w = 0; w < kWarps; ++w)
        if (warp_l[w] > 0.0f) sum += warp_acc[w][d] * expf(warp_m[w] - M);
      out[2 + d] = sum;
    }
  if (threadIdx.x == 0) {
    out[0] = M;  // -inf with L = 0 for a chunk past the causal limit
    out[1] = L;
  }
}

__global__ void attention_combine(AttentionArgs a, int64_t n_splits) {
  const int64_t h = blockIdx.x, t = blockIdx.y, D = a.head_dim;
  const float* base = a.partials + (t * a.n_head + h) * n_splits * (D + 2);
  float M = -INFINITY;
  for (int64_t s = 0; s < n_splits; ++s)
    if (base[s * (D + 2) + 1] > 0.0f) M = fmaxf(M, base[s * (D + 2)]);
  float L = 0.0f;
  for (int64_t s = 0; s < n_splits; ++s) {
    const float* p = base + s * (D + 2);
    if (p[1] > 0.0f) L += p[1] * expf(p[0] - M);
  }
  auto* out = reinterpret_cast<float*>(a.dst + static_cast<uint64_t>(h) * a.dst_nb1 + static_cast<uint64_t>(t) * a.dst_nb2);
  const float inv = L > 0.0f ? 1.0f / L : 0.0f;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float sum = 0.0f;
    for (int64_t s = 0; s < n_splits; ++s) {
      const float* p = base + s * (D + 2);
      if (p[1] > 0.0f) sum += p[2 + d] * expf(p[0] - M);
    }
    out[d] = sum * inv;
  }
}

}  // namespace

uint64_t attention_decode_partials_bytes(const AttentionArgs& a) {
  return static_cast<uint64_t>(a.n_tokens * a.n_head * splits_for(a) * (a.head_dim + 2)) * sizeof(float);
}

cudaError_t launch_attention_decode(const AttentionArgs& a, cudaStream_t stream) {
  if (a.n_tokens == 0 || a.n_head == 0) return cudaSuccess;
  if (a.head_dim > kMaxHeadDim || a.n_tokens > 65535 || a.n_head > 65535 || a.partials == nullptr)
    return cudaErrorInvalidValue;
  const int64_t n_splits = splits_for(a), chunk = chunk_for(a);
  const dim3 grid(static_cast<unsigned>(n_splits), static_cast<unsigned>(a.n_head), static_cast<unsigned>(a.n_tokens));
  const cudaError_t split = with_kv_dtype(a.kv_dtype, [&](auto kv) {
    attention_split<decltype(kv)::value><<<grid, kWarps * kWarp, 0, stream>>>(a, n_splits, chunk);
    return cudaGetLastError();
  });
  if (split != cudaSuccess) return split;
  attention_combine<<<dim3(static_cast<unsigned>(a.n_head), static_cast<unsigned>(a.n_tokens)), 128, 0, stream>>>(a, n_splits);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
