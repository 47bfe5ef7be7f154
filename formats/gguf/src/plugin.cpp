// The gguf format plugin: descriptor and the C entry points of
// tessera_format_interface (the metadata and tensor look-ups are the SDK's,
// format_entries.hpp). Every fallible entry point runs inside sdk::guarded,
// so no exception crosses the ABI.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "gguf_model.hpp"
#include "tessera/cpp/abi_struct.hpp"
#include "tessera/cpp/format_entries.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/cpp/plugin_entry.hpp"
#include "tessera/tessera.h"

// The opaque ABI handle is the model itself.
struct tessera_model_file {
  std::unique_ptr<tessera::gguf::GgufModel> model;
};

namespace tessera::gguf {
namespace {

constexpr const char* kName = "gguf";

struct PluginState : sdk::HostState {
  explicit PluginState(const tessera_host_api* host_api) : HostState(host_api, kName) {}
};

using sdk::model_of;

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
    sdk::fill_value(element, meta.element(*array, index), "metadata_array_get");
  });
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

const tessera_format_interface kFormat =
    sdk::format_interface<tessera_model_file>(probe, open, metadata_array_get, tensor_info, tensor_map, tensor_read);

const tessera_plugin_descriptor kDescriptor = sdk::plugin_descriptor<PluginState>(
    {.name = kName,
     .version = TESSERA_VERSION_STRING,
     .description = "GGUF v2/v3 model files (llama.cpp), split models included; tensors memory-mapped",
     .author = "tessera"},
    &kFormat);

}  // namespace
}  // namespace tessera::gguf

TESSERA_PLUGIN_ENTRY(tessera::gguf::kDescriptor)
