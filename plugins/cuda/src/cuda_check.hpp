// CUDA and cuBLAS status -> sdk::Error, and the device guard every entry
// point uses: backends of one plugin may sit on different GPUs and share the
// host thread, so each call selects its backend's device first.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "tessera/cpp/plugin.hpp"

namespace tessera::cuda {

// "out of memory (cudaErrorMemoryAllocation)"
inline std::string cuda_error_text(cudaError_t e) {
  return std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
}

inline tessera_status status_of(cudaError_t e) {
  return e == cudaErrorMemoryAllocation ? TESSERA_ERR_OUT_OF_MEMORY : TESSERA_ERR_DEVICE;
}

// Throws sdk::Error naming `what` (e.g. "buffer_write: cudaMemcpyAsync") unless e is cudaSuccess.
inline void cuda_check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) throw sdk::Error(status_of(e), what + ": CUDA error: " + cuda_error_text(e));
}

inline void cublas_check(cublasStatus_t s, const std::string& what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw sdk::Error(TESSERA_ERR_DEVICE,
                     what + ": cuBLAS error " + std::to_string(static_cast<int>(s)) + " (" + cublasGetStatusName(s) + ")");
}

// Makes `device` current for the scope and restores the previous one.
class DeviceGuard {
 public:
  DeviceGuard(int device, const char* what) {
    cuda_check(cudaGetDevice(&previous_), std::string(what) + ": cudaGetDevice");
    if (previous_ != device) cuda_check(cudaSetDevice(device), std::string(what) + ": cudaSetDevice(" + std::to_string(device) + ")");
  }
  ~DeviceGuard() {
    int now = previous_;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_) (void)cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace tessera::cuda
