// A grow-only device scratch buffer, one per use per backend (attention
// partial results, the mul_mat kernels' scratch). Growing waits for the
// stream first, so work still queued on the old allocation finishes before
// it is freed; it refuses to grow while the stream is being captured into a
// CUDA graph (the graph would keep the old address).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tessera::cuda {

class Workspace {
 public:
  explicit Workspace(int device) : device_(device) {}
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Sets *out to at least `bytes` bytes of device memory (256-byte aligned),
  // valid until the next reserve() that grows. The caller's device must be
  // current. Returns cudaErrorStreamCaptureUnsupported when growing would be
  // needed during capture.
  cudaError_t reserve(uint64_t bytes, cudaStream_t stream, void** out);

  void* data() const { return data_; }
  uint64_t size() const { return size_; }
  int device() const { return device_; }

 private:
  int device_;
  void* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace tessera::cuda
