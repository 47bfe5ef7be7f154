// Kernel launches in cuda_sim. cuda_to_cpp.py rewrites
//   kernel<<<grid, block, shared_bytes, stream>>>(args)
// into
//   ::cuda_sim::launch(grid, block, shared_bytes, stream)([=] { kernel(args); })
// so template arguments are deduced as nvcc deduces them; every simulated
// thread runs the closure (scheduler.cpp).
#pragma once

#include <driver_types.h>
#include <vector_types.h>

#include <cstddef>
#include <functional>

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
  template <class Body>
  void operator()(Body&& body) const {
    submit(grid, block, shared_bytes, stream, KernelBody(std::forward<Body>(body)));
  }
};

inline Launch launch(dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
  return Launch{grid, block, shared_bytes, stream};
}

}  // namespace cuda_sim
