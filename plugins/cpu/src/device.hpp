// The one device of the cpu plugin: the host CPU, described from /proc and
// run-time CPU feature detection (never from compile-time flags, so one build
// reports what the machine it runs on can do).
#pragma once

#include <cstdint>
#include <string>

#include "tessera/compute.h"

namespace tessera::cpu {

// x86 features the kernels choose between, each already checked against
// XCR0 (the OS saves the register state). All false on other machines.
struct CpuFeatures {
  bool avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false;
};

// Detected once per process (cpuid does not change while we run).
const CpuFeatures& cpu_features();

// TESSERA_CAP_* bits of the running CPU (UNIFIED_MEMORY always set).
uint32_t detect_capabilities();

// Marketing name ("AMD EPYC 9654 96-Core Processor"), never empty.
std::string cpu_model_name();

// Threads this process may run on (the affinity mask), at least 1.
int hardware_threads();

// Fills every field of `info` (a complete, current-size struct).
void describe_device(tessera_device_info& info);

}  // namespace tessera::cpu
