// The gguf format plugin: descriptor and the C entry points of
// tessera_format_interface. Every fallible entry point runs inside
// sdk::guarded, so no exception crosses the ABI.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "gguf_model.hpp"
#include "tessera/cpp/abi_struct.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/tessera.h"

// The opaque ABI handle is the model itself.
struct tessera_model_file {
  std::unique_ptr<tessera::gguf::GgufModel> model;
};

namespace tessera::gguf {
namespace {

constexpr const char* kName = "gguf";

struct PluginState {
  sdk::Log log;
};

tessera_status initialize(const tessera_host_api* host, void** plugin_state, tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (plugin_state == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "initialize: plugin_state is NULL");
    *plugin_state = new PluginState{sdk::Log(host, kName)};
  });
}

void shutdown(void* plugin_state) { delete static_cast<PluginState*>(plugin_state); }

const GgufModel& model_of(const tessera_model_file* file, const char* function) {
  if (file == nullptr || file->model == nullptr)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(function) + ": file is NULL");
  return *file->model;
}

void fill_value(tessera_value* out, const tessera_value& v, const char* function) {
  sdk::fill_struct(out, v, TESSERA_SIZE_THROUGH(tessera_value, as), function);
}

int probe(void*, const char*, const uint8_t* head, size_t head_size) {
  if (head == nullptr || head_size < 4 || std::memcmp(head, "GGUF", 4) != 0) return 0;
  if (head_size < 8) return 90;
  uint32_t version = 0;
  std::memcpy(&version, head + 4, sizeof version);
  // Other versions are still ours: open explains why they are refused.
  return version == 2 || version == 3 ? 100 : 90;
}

tessera_status open(void* plugin_state, const char* path, const tessera_config*, tessera_model_file** out,
                    tessera_error* err) {
  return sdk::guarded(err, [&] {
    sdk::require_arg(out, "open", "out");
    *out = nullptr;
    sdk::require_arg(path, "open", "path");
    static const sdk::Log kNoLog;
    const auto* state = static_cast<const PluginState*>(plugin_state);
    auto file = std::make_unique<tessera_model_file>();
    file->model = GgufModel::open(path, state != nullptr ? state->log : kNoLog);
    *out = file.release();
  });
}

void close(tessera_model_file* file) { delete file; }

uint64_t metadata_count(const tessera_model_file* file) {
  return file != nullptr && file->model != nullptr ? file->model->metadata().size() : 0;
}

tessera_status metadata_at(const tessera_model_file* file, uint64_t index, tessera_string_view* key,
                           tessera_value* value, tessera_error* err) {
  return sdk::guarded(err, [&] {
    const Metadata& meta = model_of(file, "metadata_at").metadata();
    sdk::require_arg(key, "metadata_at", "key");
    sdk::require_arg(value, "metadata_at", "value");
    if (index >= meta.size())
      throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, "metadata_at: index " + std::to_string(index) + " is outside the " +
                                                     std::to_string(meta.size()) + " metadata entries");
    const std::string_view k = meta.key(index);
    fill_value(value, meta.value(index), "metadata_at");
    *key = tessera_string_view{k.data(), k.size()};
  });
}

tessera_status metadata_find(const tessera_model_file* file, const char* key, tessera_value* value,
                             tessera_error* err) {
  return sdk::guarded(err, [&] {
    const Metadata& meta = model_of(file, "metadata_find").metadata();
    sdk::require_arg(key, "metadata_find", "key");
    sdk::require_arg(value, "metadata_find", "value");
    const tessera_value* v = meta.find(key);
    if (v == nullptr) throw sdk::Error(TESSERA_ERR_NOT_FOUND, "metadata key '" + std::string(key) + "' not found");
    fill_value(value, *v, "metadata_find");
  });
}

tessera_status metadata_array_get(const tessera_model_file* file, const tessera_value* array, uint64_t index,
                                  tessera_value* element, tessera_error* err) {
  return sdk::guarded(err, [&] {
    const Metadata& meta = model_of(file, "metadata_array_get").metadata();
    sdk::require_arg(array, "metadata_array_get", "array");
    sdk::require_arg(element, "metadata_array_get", "element");
    if (array->struct_size < TESSERA_SIZE_THROUGH(tessera_value, as))
      throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "metadata_array_get: array->struct_size is " +
                                                         std::to_string(array->struct_size) + ", expected " +
                                                         std::to_string(sizeof(tessera_value)));
    fill_value(element, meta.element(*array, index), "metadata_array_get");
  });
}

uint64_t tensor_count(const tessera_model_file* file) {
  return file != nullptr && file->model != nullptr ? file->model->tensor_count() : 0;
}

tessera_status tensor_info(const tessera_model_file* file, uint64_t index, tessera_tensor_info* info,
                           tessera_error* err) {
  return sdk::guarded(err, [&] {
    const GgufModel::Tensor& t = model_of(file, "tensor_info").tensor(index);
    sdk::require_arg(info, "tensor_info", "info");
    tessera_tensor_info full{};
    full.struct_size = sizeof full;
    full.name = t.record->name.c_str();
    full.dtype = t.record->dtype;
    full.n_dims = t.record->n_dims;
    std::copy(std::begin(t.record->dims), std::end(t.record->dims), full.dims);
    full.n_bytes = t.record->n_bytes;
    full.file_offset = t.file_offset;
    full.file_index = t.file_index;
    sdk::fill_struct(info, full, TESSERA_SIZE_THROUGH(tessera_tensor_info, file_index), "tensor_info");
  });
}

tessera_status tensor_find(const tessera_model_file* file, const char* name, uint64_t* index, tessera_error* err) {
  return sdk::guarded(err, [&] {
    const GgufModel& model = model_of(file, "tensor_find");
    sdk::require_arg(name, "tensor_find", "name");
    sdk::require_arg(index, "tensor_find", "index");
    const auto found = model.find_tensor(name);
    if (!found) throw sdk::Error(TESSERA_ERR_NOT_FOUND, "tensor '" + std::string(name) + "' not found");
    *index = *found;
  });
}

tessera_status tensor_map(const tessera_model_file* file, uint64_t index, const void** data, uint64_t* size,
                          tessera_error* err) {
  return sdk::guarded(err, [&] {
    const GgufModel::Tensor& t = model_of(file, "tensor_map").tensor(index);
    sdk::require_arg(data, "tensor_map", "data");
    sdk::require_arg(size, "tensor_map", "size");
    *data = t.data;
    *size = t.record->n_bytes;
  });
}

tessera_status tensor_read(const tessera_model_file* file, uint64_t index, uint64_t offset, void* dst, uint64_t size,
                           tessera_error* err) {
  return sdk::guarded(err, [&] {
    const GgufModel::Tensor& t = model_of(file, "tensor_read").tensor(index);
    const uint64_t n = t.record->n_bytes;
    if (offset > n || size > n - offset)
      throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, "tensor_read: bytes [" + std::to_string(offset) + ", " +
                                                     std::to_string(offset) + " + " + std::to_string(size) +
                                                     ") are outside tensor '" + t.record->name + "' of " +
                                                     std::to_string(n) + " bytes");
    if (size == 0) return;
    sdk::require_arg(dst, "tensor_read", "dst");
    std::memcpy(dst, t.data + offset, static_cast<size_t>(size));
  });
}

const tessera_format_interface kFormat = {
    sizeof(tessera_format_interface),
    probe,
    open,
    close,
    metadata_count,
    metadata_at,
    metadata_find,
    metadata_array_get,
    tensor_count,
    tensor_info,
    tensor_find,
    tensor_map,
    tensor_read,
};

const tessera_plugin_descriptor kDescriptor = {
    sizeof(tessera_plugin_descriptor),
    TESSERA_ABI_VERSION_MAJOR,
    TESSERA_ABI_VERSION_MINOR,
    TESSERA_KIND_FORMAT,
    kName,
    TESSERA_VERSION_STRING,
    "GGUF v2/v3 model files (llama.cpp), split models included; tensors memory-mapped",
    0,
    nullptr,
    initialize,
    shutdown,
    &kFormat,
    nullptr,
    nullptr,
    nullptr,
    "tessera",
    nullptr,
};

}  // namespace
}  // namespace tessera::gguf

extern "C" TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) {
  return &tessera::gguf::kDescriptor;
}
