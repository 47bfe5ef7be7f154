// Hyper-parameters of well-known LLaMA-family models, for `tessera synth`
// (benchmark models with random weights when real ones can't be downloaded).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct ModelShape {
  std::string name;
  int64_t vocab_size;
  int64_t embedding;      // llama.embedding_length
  int64_t layers;         // llama.block_count
  int64_t heads;          // llama.attention.head_count
  int64_t kv_heads;       // llama.attention.head_count_kv
  int64_t feed_forward;   // llama.feed_forward_length
  int64_t context;        // llama.context_length
  double rope_base;       // llama.rope.freq_base
  double rms_epsilon;     // llama.attention.layer_norm_rms_epsilon
  bool tied_embeddings;   // no output.weight

  int64_t head_dim() const { return embedding / heads; }
  int64_t parameter_count() const;
};

const std::vector<ModelShape>& known_model_shapes();
// Throws tessera::Error listing the known names when `name` is unknown.
const ModelShape& find_model_shape(const std::string& name);

}  // namespace tessera
