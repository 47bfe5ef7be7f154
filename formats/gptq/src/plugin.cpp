// The gptq format plugin: Hugging Face LLaMA/Mistral directories with
// GPTQ (AutoGPTQ v1/v2) or float safetensors. Descriptor and the C entry
// points of tessera_format_interface; every fallible entry point runs inside
// sdk::guarded, so no exception crosses the ABI.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "hf_model.hpp"
#include "tessera/cpp/abi_struct.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/tessera.h"

// The opaque ABI handle is the model itself.
struct tessera_model_file {
  std::unique_ptr<tessera::gptq::HfModel> model;
};

namespace tessera::gptq {
namespace {

constexpr const char* kName = "gptq";

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

const HfModel& model_of(const tessera_model_file* file, const char* function) {
  if (file == nullptr || file->model == nullptr)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(function) + ": file is NULL");
  return *file->model;
}

void fill_value(tessera_value* out, const tessera_value& v, const char* function) {
  sdk::fill_struct(out, v, TESSERA_SIZE_THROUGH(tessera_value, as), function);
}

// The model directory of `path`: the directory itself, or the one holding a
// .safetensors file given directly (any shard opens the whole model).
std::filesystem::path model_directory(const char* path) {
  const std::filesystem::path p(path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec) || p.extension() != ".safetensors") return p;
  return p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
}

// A directory with config.json and safetensors (or a .safetensors file in
// one); GGUF files are not ours.
int probe(void*, const char* path, const uint8_t*, size_t) {
  if (path == nullptr) return 0;
  try {
    if (!looks_like_hf_directory(model_directory(path))) return 0;
    return model_directory(path) == std::filesystem::path(path) ? 90 : 80;
  } catch (...) {
    return 0;
  }
}

tessera_status open(void* plugin_state, const char* path, const tessera_config*, tessera_model_file** out,
                    tessera_error* err) {
  return sdk::guarded(err, [&] {
    sdk::require_arg(out, "open", "out");
    *out = nullptr;
    sdk::require_arg(path, "open", "path");
    auto file = std::make_unique<tessera_model_file>();
    file->model = HfModel::open(model_directory(path));
    if (const auto* state = static_cast<const PluginState*>(plugin_state); state != nullptr) {
      const HfModel& m = *file->model;
      state->log.info(std::string(path) + ": " + std::to_string(m.tensor_count()) + " tensors" +
                      (m.quant() ? ", GPTQ " + std::to_string(m.quant()->bits) + "-bit group " +
                                       std::to_string(m.quant()->group_size) +
                                       (m.quant()->desc_act ? " act-order" : "")
                                 : std::string(", float weights")));
      for (const std::string& w : m.warnings()) state->log.warn(w);
    }
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
    const MetadataTable& meta = model_of(file, "metadata_at").metadata();
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
    const MetadataTable& meta = model_of(file, "metadata_find").metadata();
    sdk::require_arg(key, "metadata_find", "key");
    sdk::require_arg(value, "metadata_find", "value");
    const tessera_value* v = meta.find(key);
    if (v == nullptr) throw sdk::Error(TESSERA_ERR_NOT_FOUND, "metadata key '" + std::string(key) + "' not found");
    fill_value(value, *v, "metadata_find");
  });
}

// This plugin publishes no array values.
tessera_status metadata_array_get(const tessera_model_file* file, const tessera_value*, uint64_t, tessera_value*,
                                  tessera_error* err) {
  return sdk::guarded(err, [&] {
    model_of(file, "metadata_array_get");
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "metadata_array_get: this model has no array values");
  });
}

uint64_t tensor_count(const tessera_model_file* file) {
  return file != nullptr && file->model != nullptr ? file->model->tensor_count() : 0;
}

tessera_status tensor_info(const tessera_model_file* file, uint64_t index, tessera_tensor_info* info,
                           tessera_error* err) {
  return sdk::guarded(err, [&] {
    const HfModel::Tensor& t = model_of(file, "tensor_info").tensor(index);
    sdk::require_arg(info, "tensor_info", "info");
    tessera_tensor_info full{};
    full.struct_size = sizeof full;
    full.name = t.name.c_str();
    full.dtype = t.dtype;
    full.n_dims = static_cast<uint32_t>(t.dims.size());
    std::copy(t.dims.begin(), t.dims.end(), full.dims);
    full.n_bytes = t.n_bytes;
    full.file_offset = t.file_offset;
    full.file_index = t.file_index;
    sdk::fill_struct(info, full, TESSERA_SIZE_THROUGH(tessera_tensor_info, file_index), "tensor_info");
  });
}

tessera_status tensor_find(const tessera_model_file* file, const char* name, uint64_t* index, tessera_error* err) {
  return sdk::guarded(err, [&] {
    const HfModel& model = model_of(file, "tensor_find");
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
    const HfModel::Tensor& t = model_of(file, "tensor_map").tensor(index);
    sdk::require_arg(data, "tensor_map", "data");
    sdk::require_arg(size, "tensor_map", "size");
    // GPTQ layouts and reordered q/k rows exist only while being read (see
    // hf_model.hpp); the host then falls back to tensor_read.
    if (t.data == nullptr)
      throw sdk::Error(TESSERA_ERR_UNSUPPORTED, "tensor_map: tensor '" + t.name +
                                                    "' is built when read (GPTQ layout or reordered rows), not held "
                                                    "in memory; use tensor_read");
    *data = t.data;
    *size = t.n_bytes;
  });
}

tessera_status tensor_read(const tessera_model_file* file, uint64_t index, uint64_t offset, void* dst, uint64_t size,
                           tessera_error* err) {
  return sdk::guarded(err, [&] {
    const HfModel& model = model_of(file, "tensor_read");
    if (size > 0) sdk::require_arg(dst, "tensor_read", "dst");
    try {
      model.read(index, offset, dst, size);
    } catch (const sdk::Error& e) {
      throw sdk::Error(e.code(), std::string("tensor_read: ") + e.what());
    }
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
    "Hugging Face LLaMA/Mistral directories (config.json + safetensors, sharded included): GPTQ 4/8/3-bit "
    "(AutoGPTQ v1/v2, act-order) and float weights",
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
}  // namespace tessera::gptq

extern "C" TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) {
  return &tessera::gptq::kDescriptor;
}
