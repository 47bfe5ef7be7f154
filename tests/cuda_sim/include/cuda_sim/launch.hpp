// Kernel launches in cuda_sim. cuda_to_cpp.py rewrites
//   kernel<<<grid, block, shared_bytes, stream>>>(args)
// into
//   ::cuda_sim::launch(grid, block, shared_bytes, stream)([](auto... p) { kernel(p...); }, args)
// so the arguments are evaluated and copied at the launch and template
// arguments deduced from them, as nvcc does; every simulated thread then
// calls the kernel with those copies (scheduler.cpp).
#pragma once

#include <driver_types.h>
#include <vector_types.h>

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cuda_sim {

using KernelBody = std::function<void()>;

// Checks the configuration like the runtime does (block size, grid limits,
// shared memory), then runs the kernel now or records it into the stream's
// capture. Errors go to cudaGetLastError.
void submit(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, KernelBody body);

struct Launch {
  dim3 grid, block;
  size_t shared_bytes = 0;
  cudaStream_t stream = nullptr;
  template <class Call, class... Args>
  void operator()(Call call, Args&&... args) const {
    submit(grid, block, shared_bytes, stream,
           [call, params = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)] { std::apply(call, params); });
  }
};

inline Launch launch(dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
  return Launch{grid, block, shared_bytes, stream};
}

}  // namespace cuda_sim
