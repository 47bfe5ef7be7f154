// Test-side writers: safetensors bytes (independent of the reader under
// test) and small Hugging Face GPTQ directories with random weights, so each
// hostile test can corrupt exactly one thing.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tessera::test::gptq {

using Bytes = std::vector<uint8_t>;

struct StEntry {
  std::string name;
  std::string dtype;  // "F16", "I32", ...
  std::vector<uint64_t> shape;
  Bytes data;
};

// 8-byte little-endian length, the header text, then the data.
inline Bytes assemble_safetensors(const std::string& header, const Bytes& data) {
  Bytes out(8);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// The header JSON of `entries` laid out back to back, in the order given.
inline nlohmann::json safetensors_header(const std::vector<StEntry>& entries) {
  nlohmann::json h = nlohmann::json::object();
  uint64_t at = 0;
  for (const StEntry& e : entries) {
    h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {at, at + e.data.size()}}};
    at += e.data.size();
  }
  return h;
}

inline Bytes concat_data(const std::vector<StEntry>& entries) {
  Bytes data;
  for (const StEntry& e : entries) data.insert(data.end(), e.data.begin(), e.data.end());
  return data;
}

inline Bytes build_safetensors(const std::vector<StEntry>& entries) {
  return assemble_safetensors(safetensors_header(entries).dump(), concat_data(entries));
}

inline void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

template <class T>
Bytes as_bytes(const std::vector<T>& values) {
  Bytes b(values.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), values.data(), b.size());
  return b;
}

// Packs codes along one axis of 32-bit words, lowest bits first; a code may
// straddle two words (3-bit). codes[i] for i in [0, count) -> stream.
inline std::vector<uint32_t> pack_stream(const std::vector<uint32_t>& codes, uint32_t bits) {
  std::vector<uint32_t> words((codes.size() * bits + 31) / 32, 0u);
  for (size_t i = 0; i < codes.size(); ++i) {
    const uint64_t bit = i * bits, shifted = uint64_t{codes[i]} << (bit % 32);
    words[bit / 32] |= static_cast<uint32_t>(shifted);
    if (shifted >> 32) words[bit / 32 + 1] |= static_cast<uint32_t>(shifted >> 32);
  }
  return words;
}

// One GPTQ projection with random codes, scales and zeros.
struct GptqLayer {
  uint64_t in = 0, out = 0;
  uint32_t bits = 4, group_size = 32;
  std::vector<uint32_t> codes;   // [in][out]
  std::vector<uint32_t> zeros;   // true zero points [groups][out]
  std::vector<uint16_t> scales;  // f16 [groups][out]
  std::vector<int32_t> g_idx;    // [in]
  uint64_t groups() const { return (in + group_size - 1) / group_size; }

  static GptqLayer random(uint64_t in, uint64_t out, uint32_t bits, uint32_t group_size, bool act_order,
                          std::mt19937& rng) {
    GptqLayer l;
    l.in = in;
    l.out = out;
    l.bits = bits;
    l.group_size = group_size;
    const uint32_t max_code = (1u << bits) - 1;
    std::uniform_int_distribution<uint32_t> code(0, max_code), zero(1, max_code);
    std::uniform_int_distribution<uint16_t> scale(0x2000, 0x2c00);  // small positive halves
    l.codes.resize(in * out);
    for (auto& c : l.codes) c = code(rng);
    l.zeros.resize(l.groups() * out);
    for (auto& z : l.zeros) z = zero(rng);  // >= 1: representable in v1 (zero - 1)
    l.scales.resize(l.groups() * out);
    for (auto& s : l.scales) s = scale(rng);
    l.g_idx.resize(in);
    std::vector<int32_t> order(in);
    for (uint64_t k = 0; k < in; ++k) order[k] = static_cast<int32_t>(k);
    if (act_order) std::shuffle(order.begin(), order.end(), rng);
    for (uint64_t k = 0; k < in; ++k) l.g_idx[static_cast<size_t>(order[k])] = static_cast<int32_t>(k / group_size);
    return l;
  }

  // AutoGPTQ tensors: qweight [in*bits/32][out], qzeros [groups][out*bits/32]
  // holding zero - 1 when `v1`, scales, g_idx.
  std::vector<StEntry> entries(const std::string& prefix, bool v1) const {
    std::vector<uint32_t> qweight(in * bits / 32 * out);
    for (uint64_t n = 0; n < out; ++n) {
      std::vector<uint32_t> column(in);
      for (uint64_t k = 0; k < in; ++k) column[k] = codes[k * out + n];
      const auto words = pack_stream(column, bits);
      for (uint64_t r = 0; r < words.size(); ++r) qweight[r * out + n] = words[r];
    }
    std::vector<uint32_t> qzeros;
    for (uint64_t g = 0; g < groups(); ++g) {
      std::vector<uint32_t> row(out);
      for (uint64_t n = 0; n < out; ++n) row[n] = (zeros[g * out + n] - (v1 ? 1u : 0u)) & ((1u << bits) - 1);
      const auto words = pack_stream(row, bits);
      qzeros.insert(qzeros.end(), words.begin(), words.end());
    }
    return {{prefix + ".qweight", "I32", {in * bits / 32, out}, as_bytes(qweight)},
            {prefix + ".qzeros", "I32", {groups(), out * bits / 32}, as_bytes(qzeros)},
            {prefix + ".scales", "F16", {groups(), out}, as_bytes(scales)},
            {prefix + ".g_idx", "I32", {in}, as_bytes(g_idx)}};
  }
};

// A one-layer LLaMA GPTQ directory: hidden 64, 4 heads (2 KV), ffn 96,
// vocab 32. Tests edit config/quantize/entries before write().
struct TinyGptqDir {
  nlohmann::json config = {
      {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 64},
      {"intermediate_size", 96}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
      {"num_hidden_layers", 1}, {"vocab_size", 32}, {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0},
      {"max_position_embeddings", 128}, {"tie_word_embeddings", false}, {"bos_token_id", 1}, {"eos_token_id", 2}};
  nlohmann::json quantize = {{"bits", 4}, {"group_size", 32}, {"desc_act", false}, {"sym", true},
                             {"checkpoint_format", "gptq"}};
  std::vector<StEntry> entries;
  std::map<std::string, GptqLayer> layers;  // by HF prefix

  explicit TinyGptqDir(bool act_order = false, uint32_t bits = 4, uint32_t seed = 7) {
    std::mt19937 rng(seed);
    quantize["bits"] = bits;
    quantize["desc_act"] = act_order;
    auto f16 = [&](std::vector<uint64_t> shape) {
      uint64_t n = 1;
      for (auto d : shape) n *= d;
      std::vector<uint16_t> v(n);
      std::uniform_int_distribution<uint16_t> h(0x3000, 0x3c00);
      for (auto& x : v) x = h(rng);
      return as_bytes(v);
    };
    entries.push_back({"model.embed_tokens.weight", "F16", {32, 64}, f16({32, 64})});
    entries.push_back({"model.norm.weight", "F16", {64}, f16({64})});
    entries.push_back({"lm_head.weight", "F16", {32, 64}, f16({32, 64})});
    entries.push_back({"model.layers.0.input_layernorm.weight", "F16", {64}, f16({64})});
    entries.push_back({"model.layers.0.post_attention_layernorm.weight", "F16", {64}, f16({64})});
    const std::pair<const char*, std::pair<uint64_t, uint64_t>> projections[] = {
        {"self_attn.q_proj", {64, 64}}, {"self_attn.k_proj", {64, 32}}, {"self_attn.v_proj", {64, 32}},
        {"self_attn.o_proj", {64, 64}}, {"mlp.gate_proj", {64, 96}},    {"mlp.up_proj", {64, 96}},
        {"mlp.down_proj", {96, 64}}};
    for (const auto& [name, dims] : projections) {
      const std::string prefix = std::string("model.layers.0.") + name;
      layers[prefix] = GptqLayer::random(dims.first, dims.second, bits, 32, act_order, rng);
      for (auto& e : layers[prefix].entries(prefix, true)) entries.push_back(std::move(e));
    }
  }

  StEntry* entry(const std::string& name) {
    for (auto& e : entries)
      if (e.name == name) return &e;
    return nullptr;
  }
  void remove(const std::string& name) {
    std::erase_if(entries, [&](const StEntry& e) { return e.name == name; });
  }

  void write(const std::filesystem::path& dir, bool with_quantize_file = true) const {
    std::filesystem::create_directories(dir);
    write_text(dir / "config.json", config.dump(2));
    if (with_quantize_file) write_text(dir / "quantize_config.json", quantize.dump(2));
    write_file(dir / "model.safetensors", build_safetensors(entries));
  }
};

// A fresh, empty directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("tessera-gptq-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace tessera::test::gptq
