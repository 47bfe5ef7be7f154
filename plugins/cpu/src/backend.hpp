// Definitions of the opaque ABI handles tessera_backend and tessera_buffer
// for the cpu plugin.
#pragma once

#include <cstdint>
#include <memory>

#include "tessera/compute.h"
#include "simd/kernels.hpp"
#include "tessera/cpu/context.h"
#include "thread_pool.hpp"

namespace tessera::cpu {

// Tags checked on every handle the host passes back, so a handle of another
// plugin (or a freed one) is reported instead of dereferenced blindly.
constexpr uint64_t kBackendMagic = 0x7465737363707542ull;  // "tesscpuB"
constexpr uint64_t kBufferMagic = 0x7465737363707546ull;   // "tesscpuF"

constexpr uint64_t kBufferAlignment = 64;  // one cache line, one AVX-512 vector
// Host memory wrapped in place (a mapped model file) needs less: GGUF aligns
// tensor data to 32 bytes by default, and no kernel relies on more for the
// weights it reads (every SIMD weight load is unaligned).
constexpr uint64_t kWrapAlignment = 32;

}  // namespace tessera::cpu

struct tessera_backend {
  uint64_t magic = tessera::cpu::kBackendMagic;
  int32_t device = 0;
  std::unique_ptr<tessera::cpu::ThreadPool> pool;
  tessera::cpu::Kernels kernels;  // the `kernels` parameter, resolved
  tessera_cpu_context context{};  // what native_context hands out
};

struct tessera_buffer {
  uint64_t magic = tessera::cpu::kBufferMagic;
  tessera_backend* backend = nullptr;
  std::byte* data = nullptr;  // kBufferAlignment-aligned (kWrapAlignment when wrapped)
  uint64_t size = 0;          // as requested
  bool wrapped = false;       // the caller's memory (buffer_wrap_host): read-only, not freed here
};

namespace tessera::cpu {

// Creates a backend with `threads` workers (>= 1) running `kernels`.
std::unique_ptr<tessera_backend> make_backend(int32_t device, int threads, const Kernels& kernels = {});

// Throws sdk::Error(INVALID_ARGUMENT) naming `what` for a NULL or foreign handle.
tessera_backend& checked(tessera_backend* backend, const char* what);
const tessera_backend& checked(const tessera_backend* backend, const char* what);

}  // namespace tessera::cpu
