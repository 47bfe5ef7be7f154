// ADD: dst = a + b (b broadcast).
#include "binary.cuh"

namespace tessera::cuda {
namespace {
struct Add {
  __device__ float operator()(float x, float y) const { return x + y; }
};
}  // namespace

cudaError_t launch_add(const BinaryArgs& a, cudaStream_t stream) { return launch_broadcast_binary(a, stream, Add{}); }

}  // namespace tessera::cuda
