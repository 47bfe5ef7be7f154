// cuda_sim's stand-in for the CUDA runtime header: the toolkit's own types
// and declarations, the runtime calls the cuda plugin makes implemented on
// the CPU (runtime.cpp), and the kernel-side built-ins (device.hpp). Found before the toolkit's header only in cuda_sim builds.
#pragma once

#include <driver_types.h>
#include <vector_functions.h>
#include <vector_types.h>

#include <cstddef>

#include "cuda_sim/device.hpp"
#include "cuda_sim/launch.hpp"

// The toolkit's declarations of the runtime calls; runtime.cpp implements
// the ones the plugin makes.
#include <cuda_runtime_api.h>

template <class T>
cudaError_t cudaMalloc(T** ptr, size_t size) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), size);
}
template <class T>
cudaError_t cudaMallocHost(T** ptr, size_t size) {
  return cudaMallocHost(reinterpret_cast<void**>(ptr), size);
}
template <class T>
cudaError_t cudaFuncSetAttribute(T* kernel, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attr, value);
}
