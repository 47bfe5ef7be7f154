// One compute backend instance (a device of a compute plugin) as the host
// sees it: RAII over backend and buffers, exceptions instead of statuses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/compute.h"
#include "tessera/kernel.h"

namespace tessera {

class Plugin;

class ComputeBackend {
 public:
  // `config` is the pipeline's compute entry (may be NULL for defaults).
  ComputeBackend(Plugin& plugin, int32_t device, const tessera_config* config);
  ~ComputeBackend();
  ComputeBackend(const ComputeBackend&) = delete;
  ComputeBackend& operator=(const ComputeBackend&) = delete;

  const std::string& name() const;
  int32_t device() const { return device_; }
  tessera_device_info info() const;
  bool supports(int32_t op, int32_t src_dtype) const;

  // Buffers live until the backend is destroyed (or free() is called).
  tessera_buffer* allocate(uint64_t size, const std::string& what);
  void free(tessera_buffer* buffer);
  void write(tessera_buffer* buffer, uint64_t offset, const void* data, uint64_t size);
  void read(tessera_buffer* buffer, uint64_t offset, void* data, uint64_t size);
  uint64_t allocated_bytes() const { return allocated_bytes_; }
  // The caller's host memory (a mapped model file) as a read-only buffer,
  // used in place; it must outlive the buffer. nullptr when the plugin does
  // not offer it or refuses this memory (then `why_not` says why, if given):
  // the caller copies instead. Other failures throw.
  tessera_buffer* wrap_host(const void* host, uint64_t size, const std::string& what, std::string* why_not = nullptr);
  uint64_t wrapped_bytes() const { return wrapped_bytes_; }
  // What its buffers hold, allocated or in place: the memory the backend uses.
  uint64_t used_bytes() const { return allocated_bytes_ + wrapped_bytes_; }

  void execute(const std::vector<tessera_node*>& nodes);
  void synchronize();

  // What a kernel plugin overriding one of this backend's ops is handed.
  tessera_execution_context execution_context() const;

 private:
  Plugin& plugin_;
  const tessera_compute_interface* api_;
  int32_t device_;
  tessera_backend* backend_ = nullptr;
  std::vector<tessera_buffer*> buffers_;
  uint64_t allocated_bytes_ = 0;
  uint64_t wrapped_bytes_ = 0;
};

// A tensor descriptor of `dtype` with dims ne (ne[0] fastest), contiguous
// strides, placed at `offset` of `buffer` (GPTQ: strides 0, see compute.h).
tessera_tensor make_tensor(int32_t dtype, std::vector<int64_t> ne, tessera_buffer* buffer, uint64_t offset,
                           const char* name);
// Bytes a contiguous tensor of that shape takes. Throws for dtypes without a
// fixed geometry (GPTQ: the size is its header's total_bytes, the file's n_bytes).
uint64_t tensor_bytes(int32_t dtype, const std::vector<int64_t>& ne);

}  // namespace tessera
