#include "device.hpp"

#include <cuda_runtime.h>

#include <cstdio>

#include "cuda_check.hpp"

namespace tessera::cuda {

int32_t device_count(std::string* reason) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // the error is sticky per thread otherwise
    if (reason != nullptr) *reason = cuda_error_text(e);
    return 0;
  }
  if (count == 0 && reason != nullptr) *reason = "the CUDA runtime reports 0 devices";
  return count;
}

void require_device(int32_t device) {
  std::string reason;
  const int32_t count = device_count(&reason);
  if (count == 0) throw sdk::Error(TESSERA_ERR_NOT_FOUND, "cuda: no CUDA device: " + reason);
  if (device < 0 || device >= count)
    throw sdk::Error(TESSERA_ERR_NOT_FOUND, "cuda: device " + std::to_string(device) + " does not exist; there are " +
                                                std::to_string(count) + " (0-" + std::to_string(count - 1) + ")");
}

void describe_device(int32_t device, tessera_device_info& info) {
  require_device(device);
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, device), "device_info: cudaGetDeviceProperties(" + std::to_string(device) + ")");
  info = tessera_device_info{};
  info.struct_size = sizeof(tessera_device_info);
  std::snprintf(info.name, sizeof info.name, "%s", prop.name);
  info.type = TESSERA_DEVICE_GPU;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.parallelism = prop.multiProcessorCount;
  {
    // Free memory is per device: make it current for the query.
    DeviceGuard guard(device, "device_info");
    size_t free_bytes = 0, total_bytes = 0;
    cuda_check(cudaMemGetInfo(&free_bytes, &total_bytes), "device_info: cudaMemGetInfo");
    info.memory_free = free_bytes;
    info.memory_total = total_bytes;
  }
  uint32_t caps = 0;
  if (prop.major >= 7) caps |= TESSERA_CAP_TENSOR_CORES;
  if (prop.major >= 8) caps |= TESSERA_CAP_BF16;
  if (prop.major > 8 || (prop.major == 8 && prop.minor >= 9)) caps |= TESSERA_CAP_FP8;
  info.capabilities = caps;
  // Nominal bandwidth: memory clock (kHz) * 2 (double data rate) * bus width.
  int clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) == cudaSuccess &&
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) == cudaSuccess && clock_khz > 0 &&
      bus_bits > 0) {
    info.memory_bandwidth_gbs = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
  } else {
    (void)cudaGetLastError();
    info.memory_bandwidth_gbs = 0;
  }
}

}  // namespace tessera::cuda
