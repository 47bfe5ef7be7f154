// RMS_NORM: dst = x / sqrt(mean(x^2) + eps), one block per row.
#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {
namespace {

__global__ void rms_norm_rows(RmsNormArgs a) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < a.n_rows; r += gridDim.x) {
    const auto* x = reinterpret_cast<const float*>(a.x + a.x_rows.offset(r));
    auto* out = reinterpret_cast<float*>(a.dst + a.dst_rows.offset(r));
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < a.k; i += blockDim.x) sum += x[i] * x[i];
    sum = block_sum(sum, scratch);
    const float mean = a.k > 0 ? sum / static_cast<float>(a.k) : 0.0f;
    const float inv = rsqrtf(mean + a.eps);
    for (int64_t i = threadIdx.x; i < a.k; i += blockDim.x) out[i] = x[i] * inv;
  }
}

}  // namespace

cudaError_t launch_rms_norm(const RmsNormArgs& a, cudaStream_t stream) {
  if (a.n_rows == 0) return cudaSuccess;
  rms_norm_rows<<<static_cast<unsigned>(a.n_rows < 65535 ? a.n_rows : 65535), 256, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
