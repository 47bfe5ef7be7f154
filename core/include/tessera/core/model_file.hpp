// A model file opened through a format plugin: the host-side, C++ view of
// tessera_format_interface (RAII, exceptions, copied metadata).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tessera/core/metadata_value.hpp"
#include "tessera/format.h"

namespace tessera {

class Plugin;
class PluginRegistry;

struct TensorInfo {
  std::string name;
  int32_t dtype = 0;
  std::vector<uint64_t> dims;  // dims[0] varies fastest
  uint64_t n_bytes = 0;
  uint64_t file_offset = 0;
  uint32_t file_index = 0;

  uint64_t element_count() const;
  std::string shape_text() const;  // "4096 x 32000"
};

class ModelFile {
 public:
  // Opens `path` with the format plugin named `format`, or the one whose
  // probe is most confident when `format` is empty. Throws tessera::Error.
  ModelFile(const std::filesystem::path& path, PluginRegistry& registry, const std::string& format = "");
  ~ModelFile();
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::string& format_name() const;

  // Metadata in file order (arrays fully copied; large arrays such as
  // tokenizer tokens take a moment).
  const std::vector<std::pair<std::string, MetadataValue>>& metadata() const { return metadata_; }
  const MetadataValue* find(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;
  std::optional<double> get_double(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;
  // Zero-copy bytes when the plugin maps them, else nullptr.
  const void* map_tensor(std::size_t index) const;
  // The tensor's bytes, mapped or read.
  std::vector<uint8_t> read_tensor(std::size_t index) const;
  // The same into `out` (resized to the tensor; its capacity is reused).
  void read_tensor(std::size_t index, std::vector<uint8_t>& out) const;

 private:
  MetadataValue copy_value(const tessera_value& value, int depth) const;

  std::filesystem::path path_;
  Plugin* plugin_ = nullptr;
  tessera_model_file* file_ = nullptr;
  std::vector<std::pair<std::string, MetadataValue>> metadata_;
  std::vector<TensorInfo> tensors_;
};

// Format plugin that reads `path` best (highest probe score), or NULL.
Plugin* detect_format(const std::filesystem::path& path, PluginRegistry& registry);

}  // namespace tessera
