#include "tessera/core/compute_backend.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/plugin.hpp"

namespace tessera {

ComputeBackend::ComputeBackend(Plugin& plugin, int32_t device, const tessera_config* config)
    : plugin_(plugin), api_(plugin.compute()), device_(device) {
  if (api_ == nullptr) throw Error(fmt::format("plugin '{}' is not a compute plugin", plugin.name()));
  void* state = plugin.state();
  const int32_t count = api_->device_count(state);
  if (device < 0 || device >= count) {
    // The plugin knows why (e.g. "no CUDA device: CUDA driver version is insufficient ...").
    std::string why;
    tessera_device_info info{};
    info.struct_size = sizeof info;
    tessera_error err = make_plugin_error();
    if (api_->device_info(state, device, &info, &err) != TESSERA_OK && err.message[0] != '\0')
      why = fmt::format(" ({})", err.message);
    throw Error(fmt::format("backend '{}' has {} device(s); device {} does not exist{}", plugin.name(), count, device, why),
                TESSERA_ERR_NOT_FOUND);
  }
  tessera_error err = make_plugin_error();
  if (api_->backend_create(state, device, config, &backend_, &err) != TESSERA_OK)
    throw Error(fmt::format("backend '{}' device {}: {}", plugin.name(), device, err.message), err.code);
}

ComputeBackend::~ComputeBackend() {
  for (tessera_buffer* b : buffers_) api_->buffer_free(b);
  if (backend_ != nullptr) api_->backend_free(backend_);
}

const std::string& ComputeBackend::name() const { return plugin_.name(); }

tessera_device_info ComputeBackend::info() const {
  tessera_device_info info{};
  info.struct_size = sizeof info;
  tessera_error err = make_plugin_error();
  if (api_->device_info(plugin_.state(), device_, &info, &err) != TESSERA_OK) throw Error(err.message, err.code);
  return info;
}

bool ComputeBackend::supports(int32_t op, int32_t src_dtype) const {
  return api_->supports_op(backend_, op, src_dtype) != 0;
}

tessera_buffer* ComputeBackend::allocate(uint64_t size, const std::string& what) {
  tessera_buffer* buffer = nullptr;
  tessera_error err = make_plugin_error();
  if (api_->buffer_alloc(backend_, std::max<uint64_t>(size, 1), &buffer, &err) != TESSERA_OK)
    throw Error(fmt::format("backend '{}': allocating {} bytes for {} failed: {}", name(), size, what, err.message),
                err.code);
  buffers_.push_back(buffer);
  allocated_bytes_ += size;
  return buffer;
}

tessera_buffer* ComputeBackend::wrap_host(const void* host, uint64_t size, const std::string& what,
                                          std::string* why_not) {
  // Plugins built against ABI 1.0/1.1 have no such entry.
  if (!TESSERA_HAS_FIELD(api_, tessera_compute_interface, buffer_wrap_host) || api_->buffer_wrap_host == nullptr) {
    if (why_not != nullptr) *why_not = fmt::format("backend '{}' does not use host memory in place", name());
    return nullptr;
  }
  tessera_buffer* buffer = nullptr;
  tessera_error err = make_plugin_error();
  const tessera_status status = api_->buffer_wrap_host(backend_, host, size, &buffer, &err);
  if (status == TESSERA_ERR_UNSUPPORTED) {
    if (why_not != nullptr) *why_not = err.message;
    return nullptr;
  }
  if (status != TESSERA_OK)
    throw Error(fmt::format("backend '{}': using {} bytes of host memory in place for {} failed: {}", name(), size,
                            what, err.message),
                err.code);
  buffers_.push_back(buffer);
  wrapped_bytes_ += size;
  return buffer;
}

void ComputeBackend::free(tessera_buffer* buffer) {
  auto it = std::find(buffers_.begin(), buffers_.end(), buffer);
  if (it == buffers_.end()) return;
  api_->buffer_free(buffer);
  buffers_.erase(it);
}

void ComputeBackend::write(tessera_buffer* buffer, uint64_t offset, const void* data, uint64_t size) {
  tessera_error err = make_plugin_error();
  if (api_->buffer_write(buffer, offset, data, size, &err) != TESSERA_OK)
    throw Error(fmt::format("backend '{}': write failed: {}", name(), err.message), err.code);
}

void ComputeBackend::read(tessera_buffer* buffer, uint64_t offset, void* data, uint64_t size) {
  tessera_error err = make_plugin_error();
  if (api_->buffer_read(buffer, offset, data, size, &err) != TESSERA_OK)
    throw Error(fmt::format("backend '{}': read failed: {}", name(), err.message), err.code);
}

void ComputeBackend::execute(const std::vector<tessera_node*>& nodes) {
  tessera_graph graph{sizeof(tessera_graph), nodes.size(), nodes.data()};
  tessera_error err = make_plugin_error();
  if (api_->graph_execute(backend_, &graph, &err) != TESSERA_OK)
    throw Error(fmt::format("backend '{}': {}", name(), err.message), err.code);
}

void ComputeBackend::synchronize() {
  tessera_error err = make_plugin_error();
  if (api_->synchronize(backend_, &err) != TESSERA_OK) throw Error(err.message, err.code);
}

tessera_execution_context ComputeBackend::execution_context() const {
  tessera_execution_context context{};
  context.struct_size = sizeof context;
  context.compute = api_;
  context.backend = backend_;
  context.native = api_->native_context != nullptr ? api_->native_context(backend_) : nullptr;
  return context;
}

uint64_t tensor_bytes(int32_t dtype, const std::vector<int64_t>& ne) {
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  // GPTQ (size in its header) and unimplemented types have no geometry.
  if (t.block_elements == 0)
    throw Error(fmt::format("dtype {} has no fixed size per element; its size cannot be computed from a shape",
                            t.name != nullptr ? t.name : std::to_string(dtype)),
                TESSERA_ERR_INTERNAL);
  uint64_t rows = 1;
  for (std::size_t i = 1; i < ne.size(); ++i) rows *= static_cast<uint64_t>(ne[i]);
  return static_cast<uint64_t>(ne[0]) / t.block_elements * t.block_bytes * rows;
}

tessera_tensor make_tensor(int32_t dtype, std::vector<int64_t> ne, tessera_buffer* buffer, uint64_t offset,
                           const char* name) {
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  tessera_tensor tensor{};
  tensor.struct_size = sizeof tensor;
  tensor.dtype = dtype;
  tensor.n_dims = static_cast<uint32_t>(ne.size());
  for (int i = 0; i < 4; ++i) tensor.ne[i] = i < static_cast<int>(ne.size()) ? ne[i] : 1;
  if (t.block_elements != 0) {  // else GPTQ: strides 0, the layout is the header's
    tensor.nb[0] = t.block_bytes;
    tensor.nb[1] = static_cast<uint64_t>(tensor.ne[0]) / t.block_elements * t.block_bytes;
    for (int i = 2; i < 4; ++i) tensor.nb[i] = tensor.nb[i - 1] * static_cast<uint64_t>(tensor.ne[i - 1]);
  }
  tensor.buffer = buffer;
  tensor.offset = offset;
  tensor.name = name;
  return tensor;
}

}  // namespace tessera
