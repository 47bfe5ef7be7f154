// An opened Hugging Face LLaMA/Mistral directory (GPTQ or float): config,
// quantization settings and safetensors, presented as the tensors and
// GGUF-style metadata the llama runtime reads. GPTQ projections become one
// tensor each in the tessera/gptq.h layout; q/k rows are moved from
// rotate-half to adjacent-pair order; norms become F32. Immutable after
// open, so every accessor may run concurrently.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
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
    const uint8_t* data = nullptr;
    uint64_t n_bytes = 0;
    uint64_t file_offset = 0;   // in its shard for tensors passed through, else 0
    uint32_t file_index = 0;
  };

  // Throws sdk::Error (IO, FORMAT, UNSUPPORTED) naming file, tensor, field.
  static std::unique_ptr<HfModel> open(const std::filesystem::path& dir);

  const MetadataTable& metadata() const { return metadata_; }
  const HfConfig& config() const { return config_; }
  const std::optional<QuantConfig>& quant() const { return quant_; }
  uint64_t tensor_count() const { return tensors_.size(); }
  const Tensor& tensor(uint64_t index) const;  // OUT_OF_RANGE for a bad index
  std::optional<uint64_t> find_tensor(std::string_view name) const;

 private:
  class Builder;
  HfModel() = default;

  HfConfig config_;
  std::optional<QuantConfig> quant_;
  std::unique_ptr<SafetensorsSet> files_;
  MetadataTable metadata_;
  std::deque<OwnedBytes> owned_;  // built tensors; deque keeps them in place
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, uint64_t> by_name_;
};

// True when `dir` looks like a Hugging Face model directory this plugin
// reads: config.json plus model.safetensors, an index, or a .safetensors file.
bool looks_like_hf_directory(const std::filesystem::path& dir);

// Source row of each output row when converting q/k projection rows from
// rotate-half order (per head: first halves, then second halves) to
// adjacent pairs: out row h*d + 2i + j comes from h*d + j*d/2 + i.
std::vector<uint32_t> rope_pair_order(uint64_t rows, uint64_t heads);

}  // namespace tessera::gptq
