// The cpu compute plugin: descriptor, parameters and the C entry points.
// Every entry point converts exceptions into a status via sdk::guarded.
#include "tessera/cpp/abi_struct.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/cpp/plugin_entry.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "backend.hpp"
#include "buffer.hpp"
#include "device.hpp"
#include "graph.hpp"
#include "ops/ops.hpp"
#include "simd/kernels.hpp"
#include "tessera/tessera.h"

namespace tessera::cpu {
namespace {

constexpr int kMaxThreads = 4096;

struct PluginState : sdk::HostState {
  explicit PluginState(const tessera_host_api* host_api) : HostState(host_api, "cpu") {}
};

int32_t device_count(void*) { return 1; }

tessera_status device_info(void*, int32_t device, tessera_device_info* info, tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (info == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "device_info: info is NULL");
    if (device != 0)
      throw sdk::Error(TESSERA_ERR_NOT_FOUND, "device_info: the cpu plugin has one device (0); device " +
                                                  std::to_string(device) + " does not exist");
    // The caller's struct may be older (smaller) than ours: fill only what it has.
    sdk::require_struct_size(info, "device_info", "info", "tessera_device_info");
    tessera_device_info full;
    describe_device(full);
    sdk::copy_struct_prefix(info, full);
  });
}

tessera_status backend_create(void* plugin_state, int32_t device, const tessera_config* config, tessera_backend** out,
                              tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (out == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "backend_create: out is NULL");
    *out = nullptr;
    if (device != 0)
      throw sdk::Error(TESSERA_ERR_NOT_FOUND, "backend_create: the cpu plugin has one device (0); device " +
                                                  std::to_string(device) + " does not exist");
    const auto* state = static_cast<const PluginState*>(plugin_state);
    const tessera_host_api* host = state != nullptr ? state->host : nullptr;
    const sdk::Config cfg(host, config);
    const int64_t threads = cfg.get_int("threads").value_or(hardware_threads());
    if (threads < 1 || threads > kMaxThreads) {
      std::string where;
      if (host != nullptr && host->config_location != nullptr && host->config_get != nullptr)
        if (const char* loc = host->config_location(host->config_get(config, "threads")); loc != nullptr)
          where = std::string(loc) + ": ";
      throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, where + "cpu: 'threads' is " + std::to_string(threads) +
                                                         ", expected 1 <= threads <= " + std::to_string(kMaxThreads));
    }
    std::string where;
    if (host != nullptr && host->config_location != nullptr && host->config_get != nullptr)
      if (const char* loc = host->config_location(host->config_get(config, "kernels")); loc != nullptr)
        where = std::string(loc) + ": ";
    const Kernels kernels = select_kernels(cfg.get_string("kernels").value_or("auto"), where);
    auto backend = make_backend(device, static_cast<int>(threads), kernels);
    if (state != nullptr)
      state->log.debug("backend on '" + cpu_model_name() + "' with " + std::to_string(threads) +
                       " threads, mul_mat kernels: " + kernels.describe());
    *out = backend.release();
  });
}

void backend_free(tessera_backend* backend) {
  if (backend == nullptr || backend->magic != kBackendMagic) return;
  backend->magic = 0;
  delete backend;  // joins the worker threads
}

int supports_op(const tessera_backend*, int32_t op, int32_t src_dtype) { return supports(op, src_dtype) ? 1 : 0; }

tessera_status buffer_alloc(tessera_backend* backend, uint64_t size, tessera_buffer** out, tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (out == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "buffer_alloc: out is NULL");
    *out = nullptr;
    *out = cpu::buffer_alloc(checked(backend, "buffer_alloc"), size);
  });
}

tessera_status buffer_wrap_host(tessera_backend* backend, const void* host, uint64_t size, tessera_buffer** out,
                                tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (out == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "buffer_wrap_host: out is NULL");
    *out = nullptr;
    *out = cpu::buffer_wrap_host(checked(backend, "buffer_wrap_host"), host, size);
  });
}

void buffer_free(tessera_buffer* buffer) { cpu::buffer_free(buffer); }

void* buffer_base(tessera_buffer* buffer) {
  return buffer != nullptr && buffer->magic == kBufferMagic ? buffer->data : nullptr;
}

tessera_status buffer_write(tessera_buffer* buffer, uint64_t offset, const void* src, uint64_t size,
                            tessera_error* err) {
  return sdk::guarded(err, [&] { cpu::buffer_write(checked(buffer, "buffer_write"), offset, src, size); });
}

tessera_status buffer_read(tessera_buffer* buffer, uint64_t offset, void* dst, uint64_t size, tessera_error* err) {
  return sdk::guarded(err, [&] { cpu::buffer_read(checked(buffer, "buffer_read"), offset, dst, size); });
}

tessera_status graph_execute(tessera_backend* backend, const tessera_graph* graph, tessera_error* err) {
  return sdk::guarded(err, [&] { execute_graph(checked(backend, "graph_execute"), graph); });
}

// Execution is synchronous: graph_execute returns when the work is done.
tessera_status synchronize(tessera_backend* backend, tessera_error* err) {
  return sdk::guarded(err, [&] { checked(backend, "synchronize"); });
}

void* native_context(tessera_backend* backend) {
  return backend != nullptr && backend->magic == kBackendMagic ? &backend->context : nullptr;
}

const tessera_param_spec kThreads =
    sdk::int_param("threads", 1, kMaxThreads, nullptr,
                   "worker threads, the driving thread included (default: every CPU this process may run on)");
const tessera_param_spec kKernelsParam =
    sdk::typed_param("kernels", TESSERA_PARAM_STRING, "auto",
                     "mul_mat kernels: auto (AVX-512 where the CPU has it, else scalar), avx512, vnni (avx512 "
                     "plus int8-activation mat-vec for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL/Q2_K..Q6_K/IQ4_XS/GPTQ, needs AVX512_VNNI), "
                     "or scalar "
                     "(the reference path, for A/B comparison)");
const tessera_param_spec* const kParams[] = {&kThreads, &kKernelsParam};

const tessera_compute_interface kCompute = {
    sizeof(tessera_compute_interface),
    device_count,
    device_info,
    backend_create,
    backend_free,
    supports_op,
    buffer_alloc,
    buffer_free,
    buffer_base,
    buffer_write,
    buffer_read,
    graph_execute,
    synchronize,
    native_context,
    buffer_wrap_host,
};

const tessera_plugin_descriptor kDescriptor = sdk::plugin_descriptor<PluginState>(
    {.name = "cpu",
     .version = TESSERA_VERSION_STRING,
     .description = "host CPU: AVX-512 mul_mat kernels chosen at run time, scalar reference ops, a thread pool",
     .params = kParams,
     .author = "tessera"},
    &kCompute);

}  // namespace
}  // namespace tessera::cpu

TESSERA_PLUGIN_ENTRY(tessera::cpu::kDescriptor)
