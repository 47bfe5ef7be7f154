// `tessera synth --format gptq`: a Hugging Face GPTQ directory of a known
// shape with seeded random weights (config.json, quantize_config.json,
// model.safetensors in AutoGPTQ v1 packing, tokenizer.model), for benchmarks
// and loader tests when real checkpoints cannot be downloaded.
#pragma once

#include <cstdint>
#include <filesystem>

#include "tessera/core/model_shapes.hpp"
#include "tessera/core/model_writer.hpp"

namespace tessera {

struct GptqSynthOptions {
  uint32_t bits = 4;          // 4, 8 or 3
  int64_t group_size = 128;   // -1: one group over all input rows; else a positive multiple of 32
  bool act_order = false;     // desc_act: g_idx a random permutation-derived map
  uint64_t seed = 42;
  std::filesystem::path tokenizer;  // copied as tokenizer.model; empty: a placeholder
};

struct GptqSynthStats {
  std::size_t quantized = 0;  // GPTQ projections
  std::size_t kept = 0;       // F16 tensors (embeddings, norms, lm_head)
  uint64_t bytes = 0;         // model.safetensors data
};

// Creates `dir` (it must not exist or be empty). Throws tessera::Error:
// INVALID_ARGUMENT for bits or group_size the reader refuses; UNSUPPORTED
// when a projection of the shape does not fit GPTQ packing (in_features a
// multiple of 32, out_features of 8, or 32 for 3 bits).
GptqSynthStats synthesize_gptq_model(const ModelShape& shape, const GptqSynthOptions& options,
                                     const std::filesystem::path& dir, const TensorProgress& progress = {});

}  // namespace tessera
