#include "device.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TESSERA_CPU_X86 1
#endif

namespace tessera::cpu {
namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// Value of the first "key : value" line of a /proc file, or "".
std::string proc_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
  }
  return {};
}

// /proc/meminfo values are "<n> kB".
uint64_t meminfo_bytes(const std::string& key) {
  std::istringstream value(proc_field("/proc/meminfo", key));
  uint64_t kib = 0;
  value >> kib;
  return kib * 1024u;
}

#if TESSERA_CPU_X86
// XCR0: which register states the OS saves on a context switch. A CPU that
// has AVX but an OS that does not save YMM/ZMM must not use them.
uint64_t xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

std::string cpuid_brand() {
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext < 0x80000004u) return {};
  char brand[49] = {};
  for (unsigned i = 0; i < 3; ++i) {
    unsigned regs[4] = {};
    __get_cpuid(0x80000002u + i, &regs[0], &regs[1], &regs[2], &regs[3]);
    std::memcpy(brand + 16 * i, regs, sizeof regs);
  }
  return trim(brand);
}
#endif

CpuFeatures probe_features() {
  CpuFeatures f;
#if TESSERA_CPU_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c & (1u << 27)) != 0;
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_avx = (xcr & 0x6u) == 0x6u;       // XMM and YMM state
  const bool os_avx512 = (xcr & 0xE6u) == 0xE6u;  // plus opmask, ZMM_Hi256, Hi16_ZMM
  f.avx = os_avx && (c & (1u << 28)) != 0;
  f.fma = f.avx && (c & (1u << 12)) != 0;
  f.f16c = f.avx && (c & (1u << 29)) != 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = f.avx && (b & (1u << 5)) != 0;
    f.avx512f = os_avx512 && (b & (1u << 16)) != 0;
    f.avx512dq = f.avx512f && (b & (1u << 17)) != 0;
    f.avx512bw = f.avx512f && (b & (1u << 30)) != 0;
    f.avx512vl = f.avx512f && (b & (1u << 31)) != 0;
    f.avx512vnni = f.avx512f && (c & (1u << 11)) != 0;
    const unsigned max_subleaf = a;
    if (f.avx512f && max_subleaf >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      f.avx512bf16 = (a & (1u << 5)) != 0;
    }
  }
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = probe_features();
  return features;
}

uint32_t detect_capabilities() {
  uint32_t caps = TESSERA_CAP_UNIFIED_MEMORY;  // buffers are plain host memory
  const CpuFeatures& f = cpu_features();
  if (f.fma) caps |= TESSERA_CAP_FMA;
  if (f.f16c) caps |= TESSERA_CAP_F16C;
  if (f.avx2) caps |= TESSERA_CAP_AVX2;
  if (f.avx512f) caps |= TESSERA_CAP_AVX512F;
  if (f.avx512vnni) caps |= TESSERA_CAP_AVX512_VNNI;
  if (f.avx512bf16) caps |= TESSERA_CAP_AVX512_BF16;
  return caps;
}

std::string cpu_model_name() {
  std::string name = proc_field("/proc/cpuinfo", "model name");
#if TESSERA_CPU_X86
  // The brand string is usually longer ("AMD EPYC 9654 96-Core Processor")
  // where a VM trims /proc/cpuinfo; prefer the more specific one.
  const std::string brand = cpuid_brand();
  if (brand.size() > name.size()) name = brand;
#endif
  return name.empty() ? "host CPU" : name;
}

int hardware_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void describe_device(tessera_device_info& info) {
  info = tessera_device_info{};
  info.struct_size = sizeof(tessera_device_info);
  const std::string name = cpu_model_name();
  std::snprintf(info.name, sizeof info.name, "%s", name.c_str());
  info.type = TESSERA_DEVICE_CPU;
  info.memory_total = meminfo_bytes("MemTotal");
  info.memory_free = meminfo_bytes("MemAvailable");
  if (info.memory_total == 0) {  // no /proc (sandbox): ask sysconf
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) info.memory_total = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
    const long avail = sysconf(_SC_AVPHYS_PAGES);
    if (avail > 0 && page > 0) info.memory_free = static_cast<uint64_t>(avail) * static_cast<uint64_t>(page);
  }
  info.capabilities = detect_capabilities();
  info.compute_major = 0;
  info.compute_minor = 0;
  info.parallelism = hardware_threads();
  info.memory_bandwidth_gbs = 0;  // unknown without a measurement
}

}  // namespace tessera::cpu
