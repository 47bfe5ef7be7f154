// The metadata the runtime needs, read from a model file's key/value pairs
// (GGUF names: general.*, <arch>.*, tokenizer.ggml.*) into typed structs,
// with errors that name the file and the missing or malformed key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class ModelFile;

struct LlamaHyperParams {
  std::string architecture;        // general.architecture ("llama")
  std::string name;                // general.name, may be empty
  int64_t context_length = 0;      // <arch>.context_length
  int64_t embedding_length = 0;    // <arch>.embedding_length
  int64_t block_count = 0;         // <arch>.block_count
  int64_t feed_forward_length = 0; // <arch>.feed_forward_length
  int64_t head_count = 0;          // <arch>.attention.head_count
  int64_t head_count_kv = 0;       // <arch>.attention.head_count_kv (default: head_count)
  int64_t rope_dimension_count = 0;// <arch>.rope.dimension_count (default: head dim)
  double rope_freq_base = 10000.0; // <arch>.rope.freq_base
  double rope_freq_scale = 1.0;    // 1 / <arch>.rope.scaling.factor when the scaling type is linear
  double rms_epsilon = 1e-5;       // <arch>.attention.layer_norm_rms_epsilon
  int64_t vocab_size = 0;          // <arch>.vocab_size, else the tokenizer's token count

  int64_t head_dim() const { return embedding_length / head_count; }
};

struct TokenizerSpec {
  std::string model;                 // tokenizer.ggml.model ("llama" = SentencePiece)
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens
  std::vector<float> scores;         // tokenizer.ggml.scores (empty when absent)
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type (empty when absent)
  std::vector<std::string> merges;   // tokenizer.ggml.merges (BPE only)
  int32_t bos_id = -1, eos_id = -1, unknown_id = -1, padding_id = -1;
  bool add_bos = true;               // tokenizer.ggml.add_bos_token
  bool add_eos = false;              // tokenizer.ggml.add_eos_token
  bool add_space_prefix = true;      // tokenizer.ggml.add_space_prefix
  std::string chat_template;         // tokenizer.chat_template, may be empty
};

// Throws tessera::Error (naming the file and key) for a missing required key,
// a value of the wrong type, an unsupported architecture or inconsistent
// values (e.g. heads that do not divide the embedding).
LlamaHyperParams read_hyper_params(const ModelFile& model);
// Checks that every weight the llama graph reads is present with the shape
// the hyper-parameters give it, before anything is sized or allocated from
// them. Throws tessera::Error (FORMAT) naming the file, the tensor, its
// shape, the expected one and the metadata keys it comes from.
void check_tensor_shapes(const ModelFile& model, const LlamaHyperParams& params);
TokenizerSpec read_tokenizer(const ModelFile& model);

}  // namespace tessera
