#include "tessera/core/model_params.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/model_file.hpp"

namespace tessera {
namespace {

class MetadataReader {
 public:
  explicit MetadataReader(const ModelFile& model) : model_(model) {}

  const MetadataValue* find(const std::string& key) const { return model_.find(key); }

  int64_t require_int(const std::string& key, int64_t min_value = 1) const {
    const MetadataValue* v = find(key);
    if (v == nullptr) fail(key, "is missing; expected an integer");
    if (!v->is_integer()) fail(key, fmt::format("is a {}; expected an integer", value_type_name(v->type)));
    if (const auto* u = std::get_if<uint64_t>(&v->value); u != nullptr && *u > static_cast<uint64_t>(INT64_MAX))
      fail(key, fmt::format("is {}; expected at most {}", *u, INT64_MAX));  // as_int would wrap it
    const int64_t value = v->as_int();
    if (value < min_value) fail(key, fmt::format("is {}; expected at least {}", value, min_value));
    return value;
  }
  int64_t int_or(const std::string& key, int64_t fallback) const {
    return find(key) != nullptr ? require_int(key, 0) : fallback;
  }
  double double_or(const std::string& key, double fallback) const {
    const MetadataValue* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_integer() && !std::holds_alternative<double>(v->value))
      fail(key, fmt::format("is a {}; expected a number", value_type_name(v->type)));
    return v->as_double();
  }
  bool bool_or(const std::string& key, bool fallback) const {
    const MetadataValue* v = find(key);
    if (v == nullptr) return fallback;
    if (v->type != TESSERA_VALUE_BOOL) fail(key, fmt::format("is a {}; expected a bool", value_type_name(v->type)));
    return std::get<bool>(v->value);
  }
  std::string string_or(const std::string& key, const std::string& fallback) const {
    const MetadataValue* v = find(key);
    if (v == nullptr) return fallback;
    if (v->type != TESSERA_VALUE_STRING) fail(key, fmt::format("is a {}; expected a string", value_type_name(v->type)));
    return v->as_string();
  }
  const std::vector<MetadataValue>* array(const std::string& key, tessera_value_type element) const {
    const MetadataValue* v = find(key);
    if (v == nullptr) return nullptr;
    if (v->type != TESSERA_VALUE_ARRAY || v->element_type != element)
      fail(key, fmt::format("is a {}; expected an array of {}", value_type_name(v->type), value_type_name(element)));
    return &v->as_array();
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(fmt::format("{}: metadata key '{}' {}", model_.path().string(), key, what), TESSERA_ERR_FORMAT);
  }

 private:
  const ModelFile& model_;
};

}  // namespace

LlamaHyperParams read_hyper_params(const ModelFile& model) {
  const MetadataReader m(model);
  LlamaHyperParams p;
  p.architecture = m.string_or("general.architecture", "");
  if (p.architecture.empty()) m.fail("general.architecture", "is missing; expected \"llama\"");
  if (p.architecture != "llama")
    throw Error(fmt::format("{}: architecture '{}' is not supported; tessera runs 'llama' (Llama 1/2/3, Mistral, "
                            "TinyLlama, TinyStories)",
                            model.path().string(), p.architecture),
                TESSERA_ERR_UNSUPPORTED);
  const std::string a = p.architecture + ".";
  p.name = m.string_or("general.name", "");
  p.context_length = m.require_int(a + "context_length");
  p.embedding_length = m.require_int(a + "embedding_length");
  p.block_count = m.require_int(a + "block_count");
  p.feed_forward_length = m.require_int(a + "feed_forward_length");
  p.head_count = m.require_int(a + "attention.head_count");
  p.head_count_kv = m.int_or(a + "attention.head_count_kv", p.head_count);
  if (p.embedding_length % p.head_count != 0)
    m.fail(a + "attention.head_count", fmt::format("is {}, which does not divide the embedding length {}",
                                                   p.head_count, p.embedding_length));
  if (p.head_count_kv < 1 || p.head_count % p.head_count_kv != 0)
    m.fail(a + "attention.head_count_kv",
           fmt::format("is {}; expected a divisor of the head count {}", p.head_count_kv, p.head_count));
  p.rope_dimension_count = m.int_or(a + "rope.dimension_count", p.head_dim());
  if (p.rope_dimension_count < 2 || p.rope_dimension_count > p.head_dim() || p.rope_dimension_count % 2 != 0)
    m.fail(a + "rope.dimension_count", fmt::format("is {}; expected an even number from 2 to the head dimension {}",
                                                   p.rope_dimension_count, p.head_dim()));
  p.rope_freq_base = m.double_or(a + "rope.freq_base", 10000.0);
  if (!std::isfinite(p.rope_freq_base) || p.rope_freq_base <= 0)
    m.fail(a + "rope.freq_base", fmt::format("is {}; expected a finite number > 0", p.rope_freq_base));
  const std::string scaling = m.string_or(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = m.double_or(a + "rope.scaling.factor", 1.0);
    if (!std::isfinite(factor) || factor <= 0)
      m.fail(a + "rope.scaling.factor", fmt::format("is {}; expected a finite number > 0", factor));
    p.rope_freq_scale = 1.0 / factor;
  } else if (scaling != "none") {
    m.fail(a + "rope.scaling.type", fmt::format("is '{}'; tessera supports 'none' and 'linear'", scaling));
  }
  p.rms_epsilon = m.double_or(a + "attention.layer_norm_rms_epsilon", 1e-5);
  if (!std::isfinite(p.rms_epsilon) || p.rms_epsilon < 0)
    m.fail(a + "attention.layer_norm_rms_epsilon", fmt::format("is {}; expected a finite number >= 0", p.rms_epsilon));
  if (const auto* tokens = m.array("tokenizer.ggml.tokens", TESSERA_VALUE_STRING))
    p.vocab_size = static_cast<int64_t>(tokens->size());
  p.vocab_size = m.int_or(a + "vocab_size", p.vocab_size);
  return p;
}

void check_tensor_shapes(const ModelFile& model, const LlamaHyperParams& p) {
  const std::string a = p.architecture + ".";
  const auto e = static_cast<uint64_t>(p.embedding_length), f = static_cast<uint64_t>(p.feed_forward_length);
  const auto v = static_cast<uint64_t>(p.vocab_size), kv = static_cast<uint64_t>(p.head_count_kv * p.head_dim());
  const std::string embd = a + "embedding_length " + std::to_string(e);
  const std::string ffn = a + "feed_forward_length " + std::to_string(f);
  const std::string vocab = "vocab size " + std::to_string(v) + " (" + a + "vocab_size or tokenizer.ggml.tokens)";
  const std::string kv_width = a + "attention.head_count_kv " + std::to_string(p.head_count_kv) + " x head dim " +
                               std::to_string(p.head_dim()) + " (" + embd + " / " + a + "attention.head_count " +
                               std::to_string(p.head_count) + ")";
  auto expect = [&](const std::string& name, std::vector<uint64_t> dims, const std::string& why, bool required = true) {
    const TensorInfo* t = model.find_tensor(name);
    if (t == nullptr) {
      if (!required) return;
      throw Error(fmt::format("{}: tensor '{}' is missing", model.path().string(), name), TESSERA_ERR_FORMAT);
    }
    if (t->dims != dims) {
      TensorInfo wanted;
      wanted.dims = std::move(dims);
      throw Error(fmt::format("{}: tensor '{}' is {}; expected {} from {}", model.path().string(), name,
                              t->shape_text(), wanted.shape_text(), why),
                  TESSERA_ERR_FORMAT);
    }
  };
  expect("token_embd.weight", {e, v}, embd + " and " + vocab);
  expect("output_norm.weight", {e}, embd);
  expect("output.weight", {e, v}, embd + " and " + vocab, /*required=*/false);  // absent: tied to the embedding
  for (int64_t l = 0; l < p.block_count; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    expect(b + "attn_norm.weight", {e}, embd);
    expect(b + "attn_q.weight", {e, e}, embd);
    expect(b + "attn_k.weight", {e, kv}, embd + " and " + kv_width);
    expect(b + "attn_v.weight", {e, kv}, embd + " and " + kv_width);
    expect(b + "attn_output.weight", {e, e}, embd);
    expect(b + "ffn_norm.weight", {e}, embd);
    expect(b + "ffn_gate.weight", {e, f}, embd + " and " + ffn);
    expect(b + "ffn_up.weight", {e, f}, embd + " and " + ffn);
    expect(b + "ffn_down.weight", {f, e}, ffn + " and " + embd);
  }
}

TokenizerSpec read_tokenizer(const ModelFile& model) {
  const MetadataReader m(model);
  TokenizerSpec t;
  t.model = m.string_or("tokenizer.ggml.model", "");
  if (t.model.empty()) m.fail("tokenizer.ggml.model", "is missing; expected \"llama\" or \"gpt2\"");
  const auto* tokens = m.array("tokenizer.ggml.tokens", TESSERA_VALUE_STRING);
  if (tokens == nullptr || tokens->empty()) m.fail("tokenizer.ggml.tokens", "is missing or empty");
  for (const auto& v : *tokens) t.tokens.push_back(v.as_string());
  if (const auto* scores = m.array("tokenizer.ggml.scores", TESSERA_VALUE_FLOAT32)) {
    if (scores->size() != t.tokens.size())
      m.fail("tokenizer.ggml.scores", fmt::format("has {} entries; expected one per token ({})", scores->size(), t.tokens.size()));
    for (const auto& v : *scores) t.scores.push_back(static_cast<float>(v.as_double()));
  }
  if (const auto* types = m.array("tokenizer.ggml.token_type", TESSERA_VALUE_INT32)) {
    if (types->size() != t.tokens.size())
      m.fail("tokenizer.ggml.token_type", fmt::format("has {} entries; expected one per token ({})", types->size(), t.tokens.size()));
    for (const auto& v : *types) t.token_types.push_back(static_cast<int32_t>(v.as_int()));
  }
  if (const auto* merges = m.array("tokenizer.ggml.merges", TESSERA_VALUE_STRING))
    for (const auto& v : *merges) t.merges.push_back(v.as_string());
  const auto n = static_cast<int64_t>(t.tokens.size());
  auto token_id = [&](const std::string& key) -> int32_t {
    const int64_t id = m.int_or(key, -1);
    if (id == 0xFFFFFFFFll || id < 0) return -1;  // uint32 -1: "no such token" (llama.cpp convention)
    if (id >= n) m.fail(key, fmt::format("is {}; expected a token id below {}", id, n));
    return static_cast<int32_t>(id);
  };
  t.bos_id = token_id("tokenizer.ggml.bos_token_id");
  t.eos_id = token_id("tokenizer.ggml.eos_token_id");
  t.unknown_id = token_id("tokenizer.ggml.unknown_token_id");
  t.padding_id = token_id("tokenizer.ggml.padding_token_id");
  t.add_bos = m.bool_or("tokenizer.ggml.add_bos_token", t.model == "llama");
  t.add_eos = m.bool_or("tokenizer.ggml.add_eos_token", false);
  t.add_space_prefix = m.bool_or("tokenizer.ggml.add_space_prefix", t.model == "llama");
  t.chat_template = m.string_or("tokenizer.chat_template", "");
  return t;
}

}  // namespace tessera
