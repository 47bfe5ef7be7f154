// An opened GGUF model: one file, or every part of a split model, mapped and
// parsed, with the tensors of all parts merged into one table. Immutable
// after open, so all accessors may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf_reader.hpp"
#include "tessera/cpp/mapped_file.hpp"
#include "tessera/cpp/plugin.hpp"

namespace tessera::gguf {

// Split-model keys as gguf-split writes them into every part.
inline constexpr std::string_view kSplitNo = "split.no";                    // 0-based part index
inline constexpr std::string_view kSplitCount = "split.count";              // number of parts
inline constexpr std::string_view kSplitTensorsCount = "split.tensors.count";  // tensors over all parts

class GgufModel {
 public:
  struct Tensor {
    const TensorRecord* record;
    uint32_t file_index;    // part holding the data
    uint64_t file_offset;   // absolute, in that part
    const uint8_t* data;    // inside that part's mapping
  };

  // Opens `path` (the first part of a split model opens every part). Throws
  // sdk::Error: IO for missing/unreadable files, FORMAT for bad content.
  static std::unique_ptr<GgufModel> open(const std::string& path, const sdk::Log& log);

  // Metadata of the first part (later parts carry only split.* keys).
  const Metadata& metadata() const { return parts_.front()->contents.metadata; }
  uint32_t version() const { return parts_.front()->contents.version; }
  uint64_t part_count() const { return parts_.size(); }

  uint64_t tensor_count() const { return tensors_.size(); }
  // Throws OUT_OF_RANGE for a bad index.
  const Tensor& tensor(uint64_t index) const;
  std::optional<uint64_t> find_tensor(std::string_view name) const;

 private:
  struct Part {
    explicit Part(const std::string& path);
    sdk::MappedFile map;
    GgufContents contents;
  };

  GgufModel() = default;
  void add_part(std::unique_ptr<Part> part);

  std::vector<std::unique_ptr<Part>> parts_;  // stable addresses: tensors point in
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string_view, uint64_t> by_name_;
};

}  // namespace tessera::gguf
