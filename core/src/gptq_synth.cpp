#include "tessera/core/gptq_synth.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/safetensors_writer.hpp"
#include "tessera/core/spm_placeholder.hpp"
#include "tessera/quant/gptq.hpp"
#include "tessera/quant/half.hpp"
#include "tessera/types.h"

namespace tessera {
namespace fs = std::filesystem;
namespace {

struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f; }  // [-1, 1)
};

struct Projection {
  std::string name;  // HF prefix, e.g. model.layers.0.self_attn.q_proj
  uint64_t in, out;
};

// ORs `code` into a stream of 32-bit words at bit `bit`; a 3-bit code may
// straddle two words. `stride` is the distance between consecutive words.
void put_code(std::vector<uint32_t>& words, uint64_t first, uint64_t stride, uint64_t bit, uint32_t code) {
  const uint64_t shifted = uint64_t{code} << (bit % 32);
  words[first + (bit / 32) * stride] |= static_cast<uint32_t>(shifted);
  if (shifted >> 32) words[first + (bit / 32 + 1) * stride] |= static_cast<uint32_t>(shifted >> 32);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw Error(fmt::format("{}: cannot write", path.string()), TESSERA_ERR_IO);
}

std::string quantize_json(const GptqSynthOptions& o) {
  return fmt::format(
      "{{\n  \"bits\": {},\n  \"group_size\": {},\n  \"damp_percent\": 0.01,\n  \"desc_act\": {},\n  \"static_groups\": false,\n"
      "  \"sym\": true,\n  \"true_sequential\": true,\n  \"model_name_or_path\": null,\n  \"model_file_base_name\": \"model\",\n"
      "  \"quant_method\": \"gptq\",\n  \"checkpoint_format\": \"gptq\"\n}}",
      o.bits, o.group_size, o.act_order ? "true" : "false");
}

std::string config_json(const ModelShape& s, const GptqSynthOptions& o) {
  std::string quant = quantize_json(o);
  std::string indented;
  for (char c : quant) indented += c == '\n' ? std::string("\n  ") : std::string(1, c);
  return fmt::format(
      "{{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n  \"hidden_size\": {},\n"
      "  \"intermediate_size\": {},\n  \"num_attention_heads\": {},\n  \"num_key_value_heads\": {},\n"
      "  \"num_hidden_layers\": {},\n  \"vocab_size\": {},\n  \"rms_norm_eps\": {:.9g},\n  \"rope_theta\": {:.9g},\n"
      "  \"max_position_embeddings\": {},\n  \"hidden_act\": \"silu\",\n  \"tie_word_embeddings\": {},\n"
      "  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n  \"torch_dtype\": \"float16\",\n  \"quantization_config\": {}\n}}\n",
      s.embedding, s.feed_forward, s.heads, s.kv_heads, s.layers, s.vocab_size, s.rms_epsilon, s.rope_base, s.context,
      s.tied_embeddings ? "true" : "false", indented);
}

}  // namespace

GptqSynthStats synthesize_gptq_model(const ModelShape& shape, const GptqSynthOptions& o, const fs::path& dir,
                                     const TensorProgress& progress) {
  if (o.bits != 4 && o.bits != 8 && o.bits != 3)
    throw Error(fmt::format("GPTQ bits {} is not supported; expected 4, 8 or 3", o.bits), TESSERA_ERR_INVALID_ARGUMENT);
  // The gptq reader takes only groups of whole packing units (kGptqRowUnit
  // rows); a directory it refuses would be of no use.
  constexpr auto kUnit = static_cast<int64_t>(quant::kGptqRowUnit);
  if (o.group_size != -1 && (o.group_size <= 0 || o.group_size % kUnit != 0))
    throw Error(fmt::format("GPTQ group size {} is not supported; expected -1 (one group) or a positive multiple of {} "
                            "(tessera's GPTQ layout packs input rows in units of {})",
                            o.group_size, kUnit, kUnit),
                TESSERA_ERR_INVALID_ARGUMENT);
  const auto e = static_cast<uint64_t>(shape.embedding), ff = static_cast<uint64_t>(shape.feed_forward);
  const auto kv = static_cast<uint64_t>(shape.head_dim() * shape.kv_heads), vocab = static_cast<uint64_t>(shape.vocab_size);
  std::vector<Projection> projections;
  for (int64_t l = 0; l < shape.layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    projections.push_back({p + "self_attn.q_proj", e, e});
    projections.push_back({p + "self_attn.k_proj", e, kv});
    projections.push_back({p + "self_attn.v_proj", e, kv});
    projections.push_back({p + "self_attn.o_proj", e, e});
    projections.push_back({p + "mlp.gate_proj", e, ff});
    projections.push_back({p + "mlp.up_proj", e, ff});
    projections.push_back({p + "mlp.down_proj", ff, e});
  }
  const uint64_t out_multiple = o.bits == 3 ? 32 : 8;
  for (const Projection& p : projections)
    if (p.in % 32 != 0 || p.out % out_multiple != 0)
      throw Error(fmt::format("shape '{}': {} is {} x {} (out x in); GPTQ packing needs in_features a multiple of 32 "
                              "and out_features a multiple of {}",
                              shape.name, p.name, p.out, p.in, out_multiple),
                  TESSERA_ERR_UNSUPPORTED);
  if (fs::exists(dir) && !(fs::is_directory(dir) && fs::is_empty(dir)))
    throw Error(fmt::format("{}: exists and is not an empty directory", dir.string()), TESSERA_ERR_INVALID_ARGUMENT);
  fs::create_directories(dir);

  // Declaration order is write order.
  SafetensorsWriter writer;
  GptqSynthStats stats;
  struct Plain {
    std::string name;
    std::vector<uint64_t> shape;
    bool ones;  // norms
  };
  std::vector<Plain> plain_first = {{"model.embed_tokens.weight", {vocab, e}, false}};
  std::vector<Plain> plain_last = {{"model.norm.weight", {e}, true}};
  if (!shape.tied_embeddings) plain_last.push_back({"lm_head.weight", {vocab, e}, false});
  auto groups_of = [&](uint64_t in) {
    const uint64_t gs = o.group_size < 0 ? in : static_cast<uint64_t>(o.group_size);
    return std::pair{gs, (in + gs - 1) / gs};
  };
  for (const Plain& t : plain_first) writer.add_tensor(t.name, "F16", t.shape);
  for (int64_t l = 0; l < shape.layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    writer.add_tensor(p + "input_layernorm.weight", "F16", {e});
    writer.add_tensor(p + "post_attention_layernorm.weight", "F16", {e});
  }
  for (const Projection& p : projections) {
    const uint64_t groups = groups_of(p.in).second;
    writer.add_tensor(p.name + ".qweight", "I32", {p.in * o.bits / 32, p.out});
    writer.add_tensor(p.name + ".qzeros", "I32", {groups, p.out * o.bits / 32});
    writer.add_tensor(p.name + ".scales", "F16", {groups, p.out});
    writer.add_tensor(p.name + ".g_idx", "I32", {p.in});
  }
  for (const Plain& t : plain_last) writer.add_tensor(t.name, "F16", t.shape);
  writer.begin(dir / "model.safetensors");

  SplitMix rng{o.seed};
  const std::size_t total = plain_first.size() + plain_last.size() + 2 * static_cast<std::size_t>(shape.layers) +
                            projections.size();
  std::size_t done = 0;
  auto write_f16 = [&](const std::string& name, uint64_t count, float amplitude, bool ones) {
    std::vector<uint16_t> values(count);
    for (auto& v : values) v = quant::f32_to_f16(ones ? 1.0f : amplitude * rng.uniform());
    writer.write(values.data(), count * 2);
    stats.kept++;
    stats.bytes += count * 2;
    if (progress) progress(++done, total, name, TESSERA_DTYPE_F16);
  };
  for (const Plain& t : plain_first) write_f16(t.name, t.shape[0] * t.shape[1], std::sqrt(3.0f / static_cast<float>(e)), false);
  for (int64_t l = 0; l < shape.layers; ++l) {
    write_f16(fmt::format("model.layers.{}.input_layernorm.weight", l), e, 0, true);
    write_f16(fmt::format("model.layers.{}.post_attention_layernorm.weight", l), e, 0, true);
  }
  const uint32_t max_code = (1u << o.bits) - 1, zero = 1u << (o.bits - 1);  // symmetric: zero mid-range
  for (const Projection& p : projections) {
    const auto [gs, groups] = groups_of(p.in);
    // Weights uniform with variance ~1/in: each mat-vec output has unit scale.
    const float step = std::sqrt(3.0f / static_cast<float>(p.in)) / static_cast<float>(zero);
    std::vector<uint32_t> qweight(p.in * o.bits / 32 * p.out, 0u);
    uint64_t pool = 0;
    uint32_t pool_bits = 0;
    auto next_code = [&] {  // many codes per random draw: 7B shapes have billions
      if (pool_bits < o.bits) pool = rng.next(), pool_bits = 64;
      const auto code = static_cast<uint32_t>(pool & max_code);
      pool >>= o.bits;
      pool_bits -= o.bits;
      return code;
    };
    for (uint64_t k = 0; k < p.in; ++k)
      for (uint64_t n = 0; n < p.out; ++n) put_code(qweight, n, p.out, k * o.bits, next_code());
    const uint64_t zero_words = p.out * o.bits / 32;
    std::vector<uint32_t> qzeros(groups * zero_words, 0u);
    std::vector<uint16_t> scales(groups * p.out);
    for (uint64_t g = 0; g < groups; ++g)
      for (uint64_t n = 0; n < p.out; ++n) {
        put_code(qzeros, g * zero_words, 1, n * o.bits, zero - 1);  // AutoGPTQ v1 stores zero - 1
        scales[g * p.out + n] = quant::f32_to_f16(step * (1.0f + 0.25f * rng.uniform()));
      }
    // g_idx: with act-order, group k / gs goes to a random set of rows.
    std::vector<uint64_t> rows(p.in);
    std::iota(rows.begin(), rows.end(), uint64_t{0});
    if (o.act_order)
      for (uint64_t i = p.in - 1; i > 0; --i) std::swap(rows[i], rows[rng.next() % (i + 1)]);
    std::vector<int32_t> g_idx(p.in);
    for (uint64_t k = 0; k < p.in; ++k) g_idx[rows[k]] = static_cast<int32_t>(k / gs);
    writer.write(qweight.data(), qweight.size() * 4);
    writer.write(qzeros.data(), qzeros.size() * 4);
    writer.write(scales.data(), scales.size() * 2);
    writer.write(g_idx.data(), g_idx.size() * 4);
    stats.quantized++;
    stats.bytes += qweight.size() * 4 + qzeros.size() * 4 + scales.size() * 2 + g_idx.size() * 4;
    if (progress) progress(++done, total, p.name, o.bits == 4 ? TESSERA_DTYPE_GPTQ_4BIT : o.bits == 8 ? TESSERA_DTYPE_GPTQ_8BIT : TESSERA_DTYPE_GPTQ_3BIT);
  }
  for (const Plain& t : plain_last)
    write_f16(t.name, t.ones ? e : vocab * e, std::sqrt(3.0f / static_cast<float>(e)), t.ones);
  writer.finish();

  write_text(dir / "config.json", config_json(shape, o));
  write_text(dir / "quantize_config.json", quantize_json(o) + "\n");
  if (o.tokenizer.empty()) write_placeholder_spm_model(dir / "tokenizer.model", shape.vocab_size);
  else fs::copy_file(o.tokenizer, dir / "tokenizer.model", fs::copy_options::overwrite_existing);
  return stats;
}

}  // namespace tessera
