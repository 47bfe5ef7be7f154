// SOFTMAX over each row of softmax(x * scale + mask); an all -inf row gives
// zeros (a fully masked query attends to nothing), as the reference does.
#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {
namespace {

__global__ void softmax_rows(SoftmaxArgs a) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < a.n_rows; r += gridDim.x) {
    const int64_t i1 = r % a.x_rows.ne1, i2 = (r / a.x_rows.ne1) % a.x_rows.ne2, i3 = r / (a.x_rows.ne1 * a.x_rows.ne2);
    const auto* x = reinterpret_cast<const float*>(a.x + a.x_rows.offset(r));
    auto* out = reinterpret_cast<float*>(a.dst + a.dst_rows.offset(r));
    const float* m = nullptr;
    if (a.mask != nullptr)
      m = reinterpret_cast<const float*>(a.mask + static_cast<uint64_t>(i1 % a.mask_ne[1]) * a.mask_nb[1] +
                                         static_cast<uint64_t>(i2 % a.mask_ne[2]) * a.mask_nb[2] +
                                         static_cast<uint64_t>(i3 % a.mask_ne[3]) * a.mask_nb[3]);
    float max = -INFINITY;
    for (int64_t i = threadIdx.x; i < a.k; i += blockDim.x)
      max = fmaxf(max, x[i] * a.scale + (m != nullptr ? m[i] : 0.0f));
    max = block_max(max, scratch);
    if (max == -INFINITY) {
      for (int64_t i = threadIdx.x; i < a.k; i += blockDim.x) out[i] = 0.0f;
      continue;
    }
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < a.k; i += blockDim.x) {
      const float e = expf(x[i] * a.scale + (m != nullptr ? m[i] : 0.0f) - max);
      out[i] = e;  // in place is fine: each element is read before this thread writes it
      sum += e;
    }
    sum = block_sum(sum, scratch);
    const float inv = 1.0f / sum;
    for (int64_t i = threadIdx.x; i < a.k; i += blockDim.x) out[i] *= inv;
  }
}

}  // namespace

cudaError_t launch_softmax(const SoftmaxArgs& a, cudaStream_t stream) {
  if (a.n_rows == 0) return cudaSuccess;
  softmax_rows<<<static_cast<unsigned>(a.n_rows < 65535 ? a.n_rows : 65535), 256, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
