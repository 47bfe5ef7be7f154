// SWIGLU: dst = silu(x) * y (the llama feed-forward gate).
#include "rowwise.cuh"

namespace tessera::cuda {
namespace {
struct Swiglu {
  __device__ float operator()(float x, float y, float) const { return silu(x) * y; }
};
}  // namespace

cudaError_t launch_swiglu(const UnaryArgs& a, cudaStream_t stream) { return launch_rowwise(a, stream, Swiglu{}); }

}  // namespace tessera::cuda
