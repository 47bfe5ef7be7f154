// config.json of a Hugging Face LLaMA/Mistral directory and its GPTQ
// quantization settings (quantize_config.json, or config.json's
// quantization_config). Every field is type-checked; errors name the file,
// the field and what was expected.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace tessera::gptq {

struct HfConfig {
  std::string architecture;  // "LlamaForCausalLM" or "MistralForCausalLM"
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  std::optional<int64_t> sliding_window;  // Mistral
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<double> rope_linear_factor;  // rope_scaling {type: linear}
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  bool tie_word_embeddings = false;
};

struct QuantConfig {
  std::string source;      // file the settings came from (for messages)
  uint32_t bits = 4;       // 4, 8 or 3
  int64_t group_size = 128;  // -1: one group over all input rows
  bool desc_act = false;
  bool sym = true;
  bool zeros_minus_one = true;  // checkpoint_format "gptq" (v1); false for "gptq_v2"
  std::string checkpoint_format = "gptq";
};

// Throws sdk::Error (IO when the file is missing, FORMAT/UNSUPPORTED for
// bad or unsupported content).
HfConfig read_hf_config(const std::filesystem::path& config_json);

// quantize_config.json when present, else config.json's
// quantization_config; nullopt when neither exists (a float checkpoint).
std::optional<QuantConfig> read_quant_config(const std::filesystem::path& dir);

}  // namespace tessera::gptq
