// The GPUs the CUDA runtime sees, described for the compute ABI.
#pragma once

#include <cstdint>
#include <string>

#include "tessera/compute.h"

namespace tessera::cuda {

// Number of CUDA devices; 0 when there is none or no usable driver, in
// which case `reason` (if given) gets the runtime's explanation.
int32_t device_count(std::string* reason = nullptr);

// Throws sdk::Error(NOT_FOUND) naming the reason unless `device` exists.
void require_device(int32_t device);

// Fills `info` for `device`; throws sdk::Error(NOT_FOUND) naming the
// reason when the device does not exist.
void describe_device(int32_t device, tessera_device_info& info);

}  // namespace tessera::cuda
