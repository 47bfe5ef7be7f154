#include "workspace.hpp"

namespace tessera::cuda {

Workspace::~Workspace() {
  if (data_ != nullptr) {
    int previous = device_;
    (void)cudaGetDevice(&previous);
    (void)cudaSetDevice(device_);
    (void)cudaFree(data_);
    (void)cudaSetDevice(previous);
  }
}

cudaError_t Workspace::reserve(uint64_t bytes, cudaStream_t stream, void** out) {
  if (out == nullptr) return cudaErrorInvalidValue;
  *out = nullptr;
  if (bytes <= size_ && data_ != nullptr) {
    *out = data_;
    return cudaSuccess;
  }
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaError_t e = cudaStreamIsCapturing(stream, &capture); e != cudaSuccess) return e;
  if (capture != cudaStreamCaptureStatusNone) return cudaErrorStreamCaptureUnsupported;
  // Grow by at least half again, so a slowly rising demand (a longer context
  // every step) does not reallocate every call.
  uint64_t want = bytes < 256 ? 256 : bytes;
  if (want < size_ + size_ / 2) want = size_ + size_ / 2;
  if (data_ != nullptr) {
    if (cudaError_t e = cudaStreamSynchronize(stream); e != cudaSuccess) return e;
    if (cudaError_t e = cudaFree(data_); e != cudaSuccess) return e;
    data_ = nullptr;
    size_ = 0;
  }
  if (cudaError_t e = cudaMalloc(&data_, static_cast<size_t>(want)); e != cudaSuccess) {
    data_ = nullptr;
    return e;
  }
  size_ = want;
  *out = data_;
  return cudaSuccess;
}

}  // namespace tessera::cuda
