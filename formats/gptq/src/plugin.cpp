// The gptq format plugin: Hugging Face LLaMA/Mistral directories with
// GPTQ (AutoGPTQ v1/v2) or float safetensors. Descriptor and the C entry
// points of tessera_format_interface (the metadata and tensor look-ups are
// the SDK's, format_entries.hpp); every fallible entry point runs inside
// sdk::guarded, so no exception crosses the ABI.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "hf_model.hpp"
#include "tessera/cpp/abi_struct.hpp"
#include "tessera/cpp/format_entries.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/cpp/plugin_entry.hpp"
#include "tessera/tessera.h"

// The opaque ABI handle is the model itself.
struct tessera_model_file {
  std::unique_ptr<tessera::gptq::HfModel> model;
};

namespace tessera::gptq {
namespace {

constexpr const char* kName = "gptq";

struct PluginState : sdk::HostState {
  explicit PluginState(const tessera_host_api* host_api) : HostState(host_api, kName) {}
};

using sdk::model_of;

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

// This plugin publishes no array values.
tessera_status metadata_array_get(const tessera_model_file* file, const tessera_value*, uint64_t, tessera_value*,
                                  tessera_error* err) {
  return sdk::guarded(err, [&] {
    model_of(file, "metadata_array_get");
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "metadata_array_get: this model has no array values");
  });
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

const tessera_format_interface kFormat =
    sdk::format_interface<tessera_model_file>(probe, open, metadata_array_get, tensor_info, tensor_map, tensor_read);

const tessera_plugin_descriptor kDescriptor = sdk::plugin_descriptor<PluginState>(
    {.name = kName,
     .version = TESSERA_VERSION_STRING,
     .description =
         "Hugging Face LLaMA/Mistral directories (config.json + safetensors, sharded included): GPTQ 4/8/3-bit "
         "(AutoGPTQ v1/v2, act-order) and float weights",
     .author = "tessera"},
    &kFormat);

}  // namespace
}  // namespace tessera::gptq

TESSERA_PLUGIN_ENTRY(tessera::gptq::kDescriptor)
