// ROPE (types.h): pairs (x[2i], x[2i+1]) of the first n_rot values of each
// row rotated by pos * freq_scale * freq_base^(-2i / n_rot); the rest copied.
// The angle is computed in double like the reference: at positions in the
// thousands a float angle loses the digits that cos/sin then expose.
#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {
namespace {

__global__ void rope_pairs(RopeArgs a) {
  const int64_t half_dim = (a.head_dim + 1) / 2;  // one thread per pair (or the odd tail)
  const int64_t total = half_dim * a.n_rows;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / half_dim, i = 2 * (e % half_dim);
    const auto* in = reinterpret_cast<const float*>(a.x + a.x_rows.offset(r));
    auto* out = reinterpret_cast<float*>(a.dst + a.dst_rows.offset(r));
    if (i < a.n_rot) {
      const double p = static_cast<double>(a.positions[a.per_row ? r : r / a.x_rows.ne1]) * a.freq_scale;
      const double theta = p * pow(static_cast<double>(a.freq_base), -static_cast<double>(i) / a.n_rot);
      double s = 0, c = 0;
      sincos(theta, &s, &c);
      const double x0 = in[i], x1 = in[i + 1];
      out[i] = static_cast<float>(x0 * c - x1 * s);
      out[i + 1] = static_cast<float>(x0 * s + x1 * c);
    } else {
      out[i] = in[i];
      if (i + 1 < a.head_dim) out[i + 1] = in[i + 1];
    }
  }
}

}  // namespace

cudaError_t launch_rope(const RopeArgs& a, cudaStream_t stream) {
  const int64_t total = (a.head_dim + 1) / 2 * a.n_rows;
  if (total == 0) return cudaSuccess;
  rope_pairs<<<grid_1d(total, 256), 256, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
