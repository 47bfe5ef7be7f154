// A kernel plugin instance bound to one (op, weight dtype) of one backend of
// the pipeline: the executor hands it those nodes instead of the backend.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/kernel.h"

namespace tessera {

class Plugin;
struct KernelEntry;
class ComputeBackend;

// Owns one instance created by a kernel plugin (destroyed through it).
class KernelInstance {
 public:
  // Creates the instance from the pipeline's `kernels:` entry. Throws
  // tessera::Error naming the plugin and the entry's location.
  KernelInstance(Plugin& plugin, const KernelEntry& entry);
  ~KernelInstance();
  KernelInstance(const KernelInstance&) = delete;
  KernelInstance& operator=(const KernelInstance&) = delete;

  const std::string& name() const { return name_; }
  const tessera_kernel_interface* api() const { return api_; }
  tessera_kernel* handle() const { return handle_; }
  uint64_t calls = 0;  // nodes executed, for logs and tests

 private:
  std::string name_;
  const tessera_kernel_interface* api_;
  tessera_kernel* handle_ = nullptr;
};

struct KernelBinding {
  int backend = 0;  // index into the runtime's backends
  int32_t op = 0;
  int32_t dtype = 0;
  KernelInstance* kernel = nullptr;
};

}  // namespace tessera
