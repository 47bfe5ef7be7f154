// Whether this machine can run a test's backend, decided before the test
// runs the CLI: a test skips only for a stated missing device, never because
// the command under test failed.
#pragma once

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "tessera/core/plugin.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/tessera.h"
#include "test_data.hpp"

namespace tessera::test {

// The CPU features the cpu plugin's `kernels: avx512` needs, missing from
// /proc/cpuinfo (the kernel clears AVX-512 flags the OS does not enable);
// empty when all are there. Read from the OS, not the plugin, so a plugin
// that wrongly refuses AVX-512 fails the test instead of skipping it.
inline std::string cpu_lacks_avx512() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      for (std::string w; words >> w;) flags.insert(w);
      break;  // every core lists the same flags
    }
  std::string missing;
  for (const char* f : {"avx512f", "avx512bw", "avx512dq", "avx512vl", "fma", "f16c"})
    if (!flags.contains(f)) missing += (missing.empty() ? "" : ", ") + std::string(f);
  return missing;
}

// The cuda plugin of this build, loaded once through the core (the library
// stays mapped); nullptr when it is not built or does not load.
inline Plugin* built_cuda_plugin() {
  static PluginRegistry* registry = [] {
    auto* r = new PluginRegistry;
    r->discover({build_plugin_dir()});
    return r;
  }();
  Plugin* cuda = registry->find_mutable("cuda");
  return cuda != nullptr && cuda->compute() != nullptr ? cuda : nullptr;
}

// GPU `device` as the cuda plugin describes it; false (and `why`) on failure.
inline bool cuda_device_info(int32_t device, tessera_device_info& info, std::string& why) {
  Plugin* cuda = built_cuda_plugin();
  if (cuda == nullptr) {
    why = "libtessera_cuda.so did not load as a compute plugin";
    return false;
  }
  info = {};
  info.struct_size = sizeof info;
  tessera_error err;
  tessera_error_init(&err);
  if (cuda->compute()->device_info(cuda->state(), device, &info, &err) == TESSERA_OK) return true;
  why = err.message;
  return false;
}

// Empty when the built cuda plugin sees a usable GPU `device`, else why not
// (plugin not built, or the CUDA runtime's reason for having no device).
inline std::string cuda_unavailable(int32_t device = 0) {
  if (!std::filesystem::exists(build_plugin_dir() / "libtessera_cuda.so"))
    return "the cuda plugin is not built (configure with CUDA: TESSERA_ENABLE_CUDA=ON and nvcc)";
  Plugin* cuda = built_cuda_plugin();
  if (cuda == nullptr) return "libtessera_cuda.so did not load as a compute plugin";
  if (device < cuda->compute()->device_count(cuda->state())) return {};
  tessera_device_info info{};
  std::string why;
  return cuda_device_info(device, info, why) ? "GPU " + std::to_string(device) + " does not exist" : why;
}

}  // namespace tessera::test
