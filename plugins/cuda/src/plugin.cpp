// The cuda compute plugin: descriptor, parameters and the C entry points.
// Every entry point converts exceptions into a status via sdk::guarded.
// Without a GPU (or driver) the plugin still loads and reports 0 devices;
// device_info and backend_create then say why.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "backend.hpp"
#include "buffer.hpp"
#include "cuda_check.hpp"
#include "device.hpp"
#include "graph.hpp"
#include "ops.hpp"
#include "tessera/cpp/abi_struct.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/cpp/plugin_entry.hpp"
#include "tessera/tessera.h"

namespace tessera::cuda {
namespace {

// Created by initialize (sdk::initialize_state), which then logs why there
// is no device, if there is none.
struct PluginState : sdk::HostState {
  explicit PluginState(const tessera_host_api* host_api) : HostState(host_api, "cuda") {
    std::string reason;
    if (device_count(&reason) == 0) log.debug("no CUDA device: " + reason);
  }
};

int32_t device_count_entry(void*) { return device_count(); }

tessera_status device_info(void*, int32_t device, tessera_device_info* info, tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (info == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "device_info: info is NULL");
    sdk::require_struct_size(info, "device_info", "info", "tessera_device_info");
    tessera_device_info full;
    describe_device(device, full);
    // The caller's struct may be older (smaller) than ours: fill only what it has.
    sdk::copy_struct_prefix(info, full);
  });
}

tessera_status backend_create(void* plugin_state, int32_t device, const tessera_config* config, tessera_backend** out,
                              tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (out == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "backend_create: out is NULL");
    *out = nullptr;
    require_device(device);
    const auto* state = static_cast<const PluginState*>(plugin_state);
    const tessera_host_api* host = state != nullptr ? state->host : nullptr;
    const sdk::Config cfg(host, config);
    const bool graphs = cfg.get_bool("cuda_graphs").value_or(true);
    const bool sync_every_op = cfg.get_bool("sync_every_op").value_or(false);
    auto backend = make_backend(device, graphs, sync_every_op, state != nullptr ? state->log : sdk::Log());
    if (state != nullptr) {
      tessera_device_info info{};
      describe_device(device, info);
      state->log.debug("backend on GPU " + std::to_string(device) + " '" + info.name + "' (sm_" +
                       std::to_string(info.compute_major) + std::to_string(info.compute_minor) + ", " +
                       std::to_string(info.parallelism) + " SMs), CUDA graphs " + (backend->cuda_graphs ? "on" : "off"));
    }
    *out = backend.release();
  });
}

void backend_free(tessera_backend* backend) {
  if (backend == nullptr || backend->magic != kBackendMagic) return;
  backend->magic = 0;
  delete backend;
}

int supports_op(const tessera_backend*, int32_t op, int32_t src_dtype) { return supports(op, src_dtype) ? 1 : 0; }

tessera_status buffer_alloc(tessera_backend* backend, uint64_t size, tessera_buffer** out, tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (out == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "buffer_alloc: out is NULL");
    *out = nullptr;
    *out = cuda::buffer_alloc(checked(backend, "buffer_alloc"), size);
  });
}

void buffer_free(tessera_buffer* buffer) { cuda::buffer_free(buffer); }

void* buffer_base(tessera_buffer* buffer) {
  return buffer != nullptr && buffer->magic == kBufferMagic ? buffer->data : nullptr;
}

tessera_status buffer_write(tessera_buffer* buffer, uint64_t offset, const void* src, uint64_t size,
                            tessera_error* err) {
  return sdk::guarded(err, [&] { cuda::buffer_write(checked(buffer, "buffer_write"), offset, src, size); });
}

tessera_status buffer_read(tessera_buffer* buffer, uint64_t offset, void* dst, uint64_t size, tessera_error* err) {
  return sdk::guarded(err, [&] { cuda::buffer_read(checked(buffer, "buffer_read"), offset, dst, size); });
}

// Asynchronous: returns once the work is queued; synchronize waits.
tessera_status graph_execute(tessera_backend* backend, const tessera_graph* graph, tessera_error* err) {
  return sdk::guarded(err, [&] { execute_graph(checked(backend, "graph_execute"), graph); });
}

tessera_status synchronize_entry(tessera_backend* backend, tessera_error* err) {
  return sdk::guarded(err, [&] { cuda::synchronize(checked(backend, "synchronize")); });
}

// The backend's cudaStream_t, for kernel plugins.
void* native_context(tessera_backend* backend) {
  return backend != nullptr && backend->magic == kBackendMagic ? static_cast<void*>(backend->stream) : nullptr;
}

const tessera_param_spec kCudaGraphs =
    sdk::typed_param("cuda_graphs", TESSERA_PARAM_BOOL, "true",
                     "capture a graph that repeats (a decode step) into a CUDA graph and replay it; false runs every "
                     "kernel launch eagerly");
const tessera_param_spec kSyncEveryOp =
    sdk::typed_param("sync_every_op", TESSERA_PARAM_BOOL, "false",
                     "debugging: wait for every kernel, so an asynchronous GPU fault is reported with the op and "
                     "tensor that caused it (slow; turns cuda_graphs off)");
const tessera_param_spec* const kParams[] = {&kCudaGraphs, &kSyncEveryOp};

const tessera_compute_interface kCompute = {
    sizeof(tessera_compute_interface),
    device_count_entry,
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
    synchronize_entry,
    native_context,
    nullptr,  // buffer_wrap_host: kernels read device memory only
};

const tessera_plugin_descriptor kDescriptor = sdk::plugin_descriptor<PluginState>(
    {.name = "cuda",
     .version = TESSERA_VERSION_STRING,
     .description = "NVIDIA GPUs: one stream and cuBLAS handle per backend, fused attention over the KV cache, "
                    "CUDA graphs for decode",
     .params = kParams,
     .author = "tessera"},
    &kCompute);

}  // namespace
}  // namespace tessera::cuda

TESSERA_PLUGIN_ENTRY(tessera::cuda::kDescriptor)
