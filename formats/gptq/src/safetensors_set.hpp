// The safetensors files of one Hugging Face model directory: either a single
// file (model.safetensors, or the only *.safetensors there) or shards listed
// by model.safetensors.index.json. Every file is mapped and parsed strictly;
// for shards, the index and the files must agree tensor by tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/cpp/mapped_file.hpp"
#include "safetensors.hpp"

namespace tessera::gptq {

inline constexpr const char* kIndexFileName = "model.safetensors.index.json";

class SafetensorsSet {
 public:
  struct Entry {
    const StTensor* tensor;
    uint32_t shard;  // index into shard paths
  };

  // Throws sdk::Error: IO for missing files, FORMAT for bad content.
  static std::unique_ptr<SafetensorsSet> open_directory(const std::filesystem::path& dir);
  // One file, no index (tests, tools).
  static std::unique_ptr<SafetensorsSet> open_file(const std::filesystem::path& file);

  const Entry* find(std::string_view name) const;
  // Tensor names in a stable order (shard by shard, header order).
  const std::vector<std::string_view>& names() const { return names_; }
  const std::string& shard_path(uint32_t shard) const { return shards_.at(shard)->map.path(); }
  // Offset of a tensor's first byte in its shard file.
  uint64_t file_offset(const Entry& e) const;
  uint32_t shard_count() const { return static_cast<uint32_t>(shards_.size()); }

 private:
  struct Shard {
    explicit Shard(const std::string& path);
    sdk::MappedFile map;
    StContents contents;
  };

  void add_shard(const std::filesystem::path& path);
  void index_tensors();

  std::vector<std::unique_ptr<Shard>> shards_;
  std::unordered_map<std::string_view, Entry> by_name_;
  std::vector<std::string_view> names_;
};

}  // namespace tessera::gptq
