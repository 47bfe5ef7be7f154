// The one device of the cpu plugin: the host CPU, described from /proc and
// run-time CPU feature detection (never from compile-time flags, so one build
// reports what the machine it runs on can do).
#pragma once

#include <cstdint>
#include <string>

#include "tessera/compute.h"

namespace tessera::cpu {

// TESSERA_CAP_* bits of the running CPU (UNIFIED_MEMORY always set).
uint32_t detect_capabilities();

// Marketing name ("AMD EPYC 9654 96-Core Processor"), never empty.
std::string cpu_model_name();

// Threads this process may run on (the affinity mask), at least 1.
int hardware_threads();

// Fills every field of `info` (a complete, current-size struct).
void describe_device(tessera_device_info& info);

}  // namespace tessera::cpu
