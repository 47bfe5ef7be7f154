// An opened Hugging Face LLaMA/Mistral directory (GPTQ or float): config,
// quantization settings and safetensors, presented as the tensors and
// GGUF-style metadata the llama runtime reads. GPTQ projections become one
// tensor each in the tessera/gptq.h layout; q/k rows are moved from
// rotate-half to adjacent-pair order; norms become F32. Everything is checked
// at open, but the GPTQ layouts and reordered q/k rows (as large as the
// weights) are built only when read, into the reader's memory: the host
// copies each tensor into its backend once, and a copy kept here would
// double the resident weights. Immutable after open, so every accessor may
// run concurrently.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hf_config.hpp"
#include "metadata_table.hpp"
#include "owned_bytes.hpp"
#include "safetensors_set.hpp"

namespace tessera::gptq {

// Metadata key naming the directory's tokenizer.model (absolute path): the
// host uses it when the pipeline names no model.tokenizer.
inline constexpr const char* kTokenizerFileKey = "tokenizer.model_file";

class HfModel {
 public:
  struct Tensor {
    std::string name;           // tessera name, e.g. blk.0.attn_q.weight
    int32_t dtype = 0;          // tessera_dtype
    std::vector<uint64_t> dims; // GGUF order: dims[0] = in_features
    // The bytes, held for the model's lifetime (mapped from a shard, or a
    // small conversion made at open); nullptr for tensors built on read.
    const uint8_t* data = nullptr;
    uint64_t n_bytes = 0;
    uint64_t file_offset = 0;   // in its shard for tensors passed through, else 0
    uint32_t file_index = 0;
    std::function<void(uint8_t*)> build;  // writes all n_bytes; set when data is nullptr
    // The mapped bytes `build` reads: released from the resident set after
    // a build, so a load does not hold the checkpoint next to its copy.
    std::vector<std::span<const uint8_t>> sources;
  };

  // Throws sdk::Error (IO, FORMAT, UNSUPPORTED) naming file, tensor, field.
  static std::unique_ptr<HfModel> open(const std::filesystem::path& dir);

  const MetadataTable& metadata() const { return metadata_; }
  const HfConfig& config() const { return config_; }
  const std::optional<QuantConfig>& quant() const { return quant_; }
  uint64_t tensor_count() const { return tensors_.size(); }
  const Tensor& tensor(uint64_t index) const;  // OUT_OF_RANGE for a bad index
  std::optional<uint64_t> find_tensor(std::string_view name) const;
  // Copies bytes [offset, offset + size) of a tensor to `dst` (OUT_OF_RANGE
  // outside it). A tensor built on read is written straight into `dst` when
  // the whole of it is asked for; a part of one costs a full build aside.
  // The mapped bytes a build read leave the resident set afterwards.
  void read(uint64_t index, uint64_t offset, void* dst, uint64_t size) const;
  OwnedBytes read_all(uint64_t index) const;  // 64-byte aligned
  // Things the user should know that do not stop the model loading.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  class Builder;
  HfModel() = default;

  HfConfig config_;
  std::optional<QuantConfig> quant_;
  std::unique_ptr<SafetensorsSet> files_;
  MetadataTable metadata_;
  std::deque<OwnedBytes> owned_;  // small tensors converted at open; deque keeps them in place
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, uint64_t> by_name_;
  std::vector<std::string> warnings_;
};

// True when `dir` looks like a Hugging Face model directory this plugin
// reads: config.json plus model.safetensors, an index, or a .safetensors file.
bool looks_like_hf_directory(const std::filesystem::path& dir);

// Source row of each output row when converting q/k projection rows from
// rotate-half order (per head: first halves, then second halves) to
// adjacent pairs: out row h*d + 2i + j comes from h*d + j*d/2 + i.
std::vector<uint32_t> rope_pair_order(uint64_t rows, uint64_t heads);

}  // namespace tessera::gptq
