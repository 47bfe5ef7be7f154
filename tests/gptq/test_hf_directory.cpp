// Hugging Face GPTQ directories written by the test writer with known random
// codes: the plugin's model must present exactly the codes, zeros, scales
// and row orders the writer chose (checked with the test's own layout
// reader), and every corrupted directory must be refused with a message
// naming the file, the tensor or field, and the expected value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "gptq_layout_view.hpp"
#include "hf_model.hpp"
#include "safetensors_test_writer.hpp"
#include "tessera/cpp/plugin.hpp"

namespace {

using namespace tessera::test::gptq;
using tessera::gptq::HfModel;
namespace fs = std::filesystem;

void expect_open_error(const fs::path& dir, tessera_status code, std::initializer_list<std::string> fragments) {
  try {
    HfModel::open(dir);
    ADD_FAILURE() << "the bad directory was accepted";
  } catch (const tessera::sdk::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    const std::string message = e.what();
    for (const auto& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
  }
}

// llama.cpp's q/k permutation, read as its reshape: rows viewed as
// [heads][2][d/2] are stored as [heads][d/2][2].
uint64_t rotate_half_source(uint64_t row, uint64_t rows, uint64_t heads) {
  const uint64_t d = rows / heads;
  const uint64_t h = row / d, pair = (row % d) / 2, which = row % 2;
  return h * d + which * (d / 2) + pair;
}

const HfModel::Tensor& tensor(const HfModel& m, const std::string& name) {
  const auto index = m.find_tensor(name);
  if (!index) throw std::runtime_error("tensor " + name + " missing");
  return m.tensor(*index);
}

// The bytes a reader gets (GPTQ layouts are built on read).
tessera::gptq::OwnedBytes bytes(const HfModel& m, const std::string& name) {
  return m.read_all(*m.find_tensor(name));
}

// Checks one projection of the model against the layer the writer made.
void expect_layer(const HfModel& m, const std::string& name, const GptqLayer& l, uint64_t rope_heads,
                  bool zeros_minus_one_roundtrip = true) {
  SCOPED_TRACE(name);
  const auto& t = tensor(m, name);
  const int32_t dtype = l.bits == 4 ? TESSERA_DTYPE_GPTQ_4BIT : l.bits == 8 ? TESSERA_DTYPE_GPTQ_8BIT : TESSERA_DTYPE_GPTQ_3BIT;
  EXPECT_EQ(t.dtype, dtype);
  EXPECT_EQ(t.dims, (std::vector<uint64_t>{l.in, l.out}));
  const auto b = bytes(m, name);
  const LayoutView v(b.data(), b.size());
  v.expect_consistent(l.bits, l.in, l.out, l.group_size);
  // perm is a permutation, and row k belongs to group k / group_size.
  std::vector<int32_t> perm(l.in);
  for (uint64_t k = 0; k < l.in; ++k) perm[k] = v.perm(k);
  std::vector<int32_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int32_t> identity(l.in);
  std::iota(identity.begin(), identity.end(), 0);
  ASSERT_EQ(sorted, identity);
  const bool trivial = std::all_of(identity.begin(), identity.end(),
                                   [&](int32_t k) { return l.g_idx[static_cast<size_t>(k)] == k / static_cast<int32_t>(l.group_size); });
  EXPECT_EQ((v.header().flags & TESSERA_GPTQ_FLAG_ACT_ORDER) != 0, !trivial);
  if (trivial) {
    EXPECT_EQ(perm, identity);
  }
  for (uint64_t k = 0; k < l.in; ++k)
    ASSERT_EQ(static_cast<uint64_t>(l.g_idx[static_cast<size_t>(perm[k])]), k / l.group_size) << "row " << k;
  for (uint64_t n = 0; n < l.out; ++n) {
    const uint64_t src = rope_heads ? rotate_half_source(n, l.out, rope_heads) : n;
    for (uint64_t k = 0; k < l.in; ++k)
      ASSERT_EQ(v.code(k, n), l.codes[static_cast<uint64_t>(perm[k]) * l.out + src]) << "row " << k << " column " << n;
    for (uint64_t g = 0; g < l.groups(); ++g) {
      ASSERT_EQ(v.zero(g, n), l.zeros[g * l.out + src]) << "group " << g << " column " << n;
      ASSERT_EQ(v.scale(g, n), tessera::quant::f16_to_f32(l.scales[g * l.out + src]));
    }
  }
  (void)zeros_minus_one_roundtrip;
}

void expect_all_layers(const HfModel& m, const TinyGptqDir& d) {
  const std::string p = "model.layers.0.";
  expect_layer(m, "blk.0.attn_q.weight", d.layers.at(p + "self_attn.q_proj"), 4);
  expect_layer(m, "blk.0.attn_k.weight", d.layers.at(p + "self_attn.k_proj"), 2);
  expect_layer(m, "blk.0.attn_v.weight", d.layers.at(p + "self_attn.v_proj"), 0);
  expect_layer(m, "blk.0.attn_output.weight", d.layers.at(p + "self_attn.o_proj"), 0);
  expect_layer(m, "blk.0.ffn_gate.weight", d.layers.at(p + "mlp.gate_proj"), 0);
  expect_layer(m, "blk.0.ffn_up.weight", d.layers.at(p + "mlp.up_proj"), 0);
  expect_layer(m, "blk.0.ffn_down.weight", d.layers.at(p + "mlp.down_proj"), 0);
}

TEST(HfDirectory, MetadataTensorsAndFourBitLayout) {
  TempDir tmp;
  TinyGptqDir d;
  d.write(tmp.path());
  const auto m = HfModel::open(tmp.path());
  const auto& meta = m->metadata();
  auto u = [&](const char* key) { return meta.find(key) ? meta.find(key)->as.u : ~0ull; };
  EXPECT_EQ(std::string(meta.find("general.architecture")->as.s.data, meta.find("general.architecture")->as.s.size), "llama");
  EXPECT_EQ(u("llama.embedding_length"), 64u);
  EXPECT_EQ(u("llama.block_count"), 1u);
  EXPECT_EQ(u("llama.attention.head_count"), 4u);
  EXPECT_EQ(u("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(u("llama.feed_forward_length"), 96u);
  EXPECT_EQ(u("llama.context_length"), 128u);
  EXPECT_EQ(u("llama.vocab_size"), 32u);
  EXPECT_EQ(u("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(u("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(u("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_FLOAT_EQ(static_cast<float>(meta.find("llama.attention.layer_norm_rms_epsilon")->as.f), 1e-5f);
  EXPECT_EQ(meta.find("llama.attention.layer_norm_rms_epsilon")->type, TESSERA_VALUE_FLOAT32);
  EXPECT_EQ(meta.find("llama.rope.freq_base")->as.f, 10000.0);
  EXPECT_EQ(meta.find("tokenizer.model_file"), nullptr);  // no tokenizer.model in this directory
  EXPECT_EQ(meta.find("llama.rope.scaling.type"), nullptr);
  EXPECT_EQ(m->tensor_count(), 12u);
  const auto& embd = tensor(*m, "token_embd.weight");
  EXPECT_EQ(embd.dtype, TESSERA_DTYPE_F16);
  EXPECT_EQ(embd.dims, (std::vector<uint64_t>{64, 32}));
  EXPECT_EQ(std::memcmp(embd.data, d.entry("model.embed_tokens.weight")->data.data(), embd.n_bytes), 0);
  const auto& norm = tensor(*m, "blk.0.attn_norm.weight");
  EXPECT_EQ(norm.dtype, TESSERA_DTYPE_F32);
  EXPECT_EQ(norm.dims, (std::vector<uint64_t>{64}));
  const auto& src = d.entry("model.layers.0.input_layernorm.weight")->data;
  for (size_t i = 0; i < 64; ++i) {
    uint16_t h;
    float f;
    std::memcpy(&h, src.data() + 2 * i, 2);
    std::memcpy(&f, norm.data + 4 * i, 4);
    ASSERT_EQ(f, tessera::quant::f16_to_f32(h));
  }
  EXPECT_EQ(tensor(*m, "output_norm.weight").dtype, TESSERA_DTYPE_F32);
  EXPECT_EQ(tensor(*m, "output.weight").dims, (std::vector<uint64_t>{64, 32}));
  EXPECT_EQ(tensor(*m, "blk.0.ffn_norm.weight").dtype, TESSERA_DTYPE_F32);
  expect_all_layers(*m, d);
}

TEST(HfDirectory, ActOrderRowsAreSortedByGroup) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  d.write(tmp.path());
  const auto m = HfModel::open(tmp.path());
  expect_all_layers(*m, d);
  const auto b = bytes(*m, "blk.0.ffn_down.weight");
  const LayoutView v(b.data(), b.size());
  EXPECT_NE(v.header().flags & TESSERA_GPTQ_FLAG_ACT_ORDER, 0u);
}

TEST(HfDirectory, EightAndThreeBitLayouts) {
  for (uint32_t bits : {8u, 3u}) {
    SCOPED_TRACE(bits);
    TempDir tmp;
    TinyGptqDir d(/*act_order=*/true, bits);
    // 3-bit zeros pack 32 columns into 3 words: outputs must be multiples of 32.
    d.write(tmp.path());
    const auto m = HfModel::open(tmp.path());
    expect_all_layers(*m, d);
  }
}

TEST(HfDirectory, GptqV2ZerosAreStoredAsIs) {
  TempDir tmp;
  TinyGptqDir d;
  d.quantize["checkpoint_format"] = "gptq_v2";
  for (auto& [prefix, layer] : d.layers) {
    for (auto& z : layer.zeros) z = z % 15;  // v2 can hold zero 0
    for (auto& e : layer.entries(prefix, /*v1=*/false)) *d.entry(e.name) = e;
  }
  d.write(tmp.path());
  expect_all_layers(*HfModel::open(tmp.path()), d);
}

TEST(HfDirectory, QuantizationConfigInsideConfigJson) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  d.config["quantization_config"] = d.quantize;
  d.config["quantization_config"]["quant_method"] = "gptq";
  d.write(tmp.path(), /*with_quantize_file=*/false);
  const auto m = HfModel::open(tmp.path());
  EXPECT_TRUE(m->quant()->desc_act);
  expect_all_layers(*m, d);
}

TEST(HfDirectory, OneGroupOverAllRows) {
  TempDir tmp;
  TinyGptqDir d;
  d.quantize["group_size"] = -1;
  std::mt19937 rng(3);
  for (auto& [prefix, layer] : d.layers) {
    layer = GptqLayer::random(layer.in, layer.out, 4, static_cast<uint32_t>(layer.in), false, rng);
    for (auto& e : layer.entries(prefix, true)) *d.entry(e.name) = e;
  }
  d.write(tmp.path());
  expect_all_layers(*HfModel::open(tmp.path()), d);
}

TEST(HfDirectory, MissingGIdxIsSynthesizedWithoutActOrder) {
  TempDir tmp;
  TinyGptqDir d;
  d.remove("model.layers.0.mlp.up_proj.g_idx");
  d.write(tmp.path());
  expect_all_layers(*HfModel::open(tmp.path()), d);
}

TEST(HfDirectory, FloatCheckpointQkRowsArePermuted) {
  TempDir tmp;
  TinyGptqDir d;
  // Replace every projection by an F16 weight [out, in] whose element is its
  // own row index, so the permutation is visible.
  for (const auto& [prefix, layer] : d.layers) {
    for (const char* part : {".qweight", ".qzeros", ".scales", ".g_idx"}) d.remove(prefix + part);
    std::vector<uint16_t> w(layer.out * layer.in);
    for (uint64_t r = 0; r < layer.out; ++r)
      for (uint64_t c = 0; c < layer.in; ++c) w[r * layer.in + c] = static_cast<uint16_t>(r);
    d.entries.push_back({prefix + ".weight", "F16", {layer.out, layer.in}, as_bytes(w)});
  }
  d.write(tmp.path(), /*with_quantize_file=*/false);
  const auto m = HfModel::open(tmp.path());
  EXPECT_FALSE(m->quant().has_value());
  for (const auto& [name, heads, rows] : {std::tuple{"blk.0.attn_q.weight", 4, 64}, std::tuple{"blk.0.attn_k.weight", 2, 32},
                                          std::tuple{"blk.0.attn_v.weight", 0, 32}}) {
    EXPECT_EQ(tensor(*m, name).dtype, TESSERA_DTYPE_F16);
    const auto b = bytes(*m, name);
    for (uint64_t r = 0; r < static_cast<uint64_t>(rows); ++r) {
      uint16_t v;
      std::memcpy(&v, b.data() + 2 * r * 64, 2);
      const uint64_t expected = heads ? rotate_half_source(r, static_cast<uint64_t>(rows), static_cast<uint64_t>(heads)) : r;
      ASSERT_EQ(v, expected) << name << " row " << r;
    }
  }
}

TEST(HfDirectory, ListOfEndTokensUsesTheFirst) {
  TempDir tmp;
  TinyGptqDir d;
  d.config["eos_token_id"] = {2, 5};
  d.write(tmp.path());
  EXPECT_EQ(HfModel::open(tmp.path())->metadata().find("tokenizer.ggml.eos_token_id")->as.u, 2u);
  d.config["eos_token_id"] = nlohmann::json::array();
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"field 'eos_token_id' is []"});
}

TEST(HfDirectory, TiedEmbeddings) {
  TempDir tmp;
  TinyGptqDir d;
  d.remove("lm_head.weight");
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"tensor 'lm_head.weight' is missing"});
  d.config["tie_word_embeddings"] = true;
  d.write(tmp.path());
  EXPECT_FALSE(HfModel::open(tmp.path())->find_tensor("output.weight").has_value());
}

TEST(HfDirectory, LinearRopeScalingIsPublishedOthersRefused) {
  TempDir tmp;
  TinyGptqDir d;
  d.config["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  d.write(tmp.path());
  const auto m = HfModel::open(tmp.path());
  const auto* type = m->metadata().find("llama.rope.scaling.type");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(std::string(type->as.s.data, type->as.s.size), "linear");
  EXPECT_EQ(m->metadata().find("llama.rope.scaling.factor")->as.f, 4.0);
  d.config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED, {"config.json", "'rope_scaling'", "'yarn'", "only linear"});
}

// GPTQ layouts and reordered q/k rows are built when read, not held by the
// model (a held copy took 3.6 GiB more for a 7B model); any part of a tensor
// reads back as the same bytes as the whole, padding included.
TEST(HfDirectory, LargeConversionsAreBuiltOnRead) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  d.write(tmp.path());
  const auto m = HfModel::open(tmp.path());
  EXPECT_EQ(tensor(*m, "blk.0.attn_q.weight").data, nullptr);
  EXPECT_EQ(tensor(*m, "blk.0.ffn_down.weight").data, nullptr);
  EXPECT_NE(tensor(*m, "token_embd.weight").data, nullptr);       // mapped
  EXPECT_NE(tensor(*m, "blk.0.attn_norm.weight").data, nullptr);  // small, converted at open
  const uint64_t index = *m->find_tensor("blk.0.attn_k.weight");
  const auto whole = m->read_all(index);
  ASSERT_GT(whole.size(), 400u);
  for (const auto& [offset, size] : {std::pair<uint64_t, uint64_t>{0, 128}, {100, 333}, {whole.size() - 7, 7}}) {
    std::vector<uint8_t> part(size);
    m->read(index, offset, part.data(), size);
    EXPECT_EQ(std::memcmp(part.data(), whole.data() + offset, size), 0) << "offset " << offset;
  }
  std::vector<uint8_t> dirty(whole.size(), 0xab);  // the reader's memory is not zeroed
  m->read(index, 0, dirty.data(), dirty.size());
  EXPECT_EQ(std::memcmp(dirty.data(), whole.data(), whole.size()), 0);
  try {
    m->read(index, whole.size() - 1, dirty.data(), 2);
    ADD_FAILURE() << "a read past the end was accepted";
  } catch (const tessera::sdk::Error& e) {
    EXPECT_EQ(e.code(), TESSERA_ERR_OUT_OF_RANGE) << e.what();
    EXPECT_NE(std::string(e.what()).find("outside tensor 'blk.0.attn_k.weight'"), std::string::npos) << e.what();
  }
}

TEST(HfDirectory, QuantizationSettingsInBothFilesThatAgree) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  d.config["quantization_config"] = d.quantize;
  d.config["quantization_config"]["quant_method"] = "gptq";
  d.write(tmp.path());
  const auto m = HfModel::open(tmp.path());
  EXPECT_EQ(m->quant()->source, (tmp.path() / "quantize_config.json").string());
  expect_all_layers(*m, d);
}

// Mistral is LLaMA with a sliding window, which tessera does not model: the
// published context stops at the window (full attention inside it is what
// Mistral computes) and the model says so.
TEST(HfDirectory, MistralHyperParametersAndSlidingWindow) {
  TempDir tmp;
  TinyGptqDir d;
  d.config["architectures"] = {"MistralForCausalLM"};
  d.config["model_type"] = "mistral";
  d.config["max_position_embeddings"] = 128;
  d.config["sliding_window"] = 64;
  d.config["rope_theta"] = 1000000.0;
  d.config["rms_norm_eps"] = 1e-6;
  d.write(tmp.path());
  auto m = HfModel::open(tmp.path());
  const auto& meta = m->metadata();
  auto u = [&](const char* key) { return meta.find(key) ? meta.find(key)->as.u : ~0ull; };
  const auto* source = meta.find("general.source.architecture");
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(std::string(source->as.s.data, source->as.s.size), "MistralForCausalLM");
  EXPECT_EQ(u("llama.context_length"), 64u);
  EXPECT_EQ(u("llama.embedding_length"), 64u);
  EXPECT_EQ(u("llama.attention.head_count"), 4u);
  EXPECT_EQ(u("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(u("llama.feed_forward_length"), 96u);
  EXPECT_EQ(meta.find("llama.rope.freq_base")->as.f, 1000000.0);
  EXPECT_FLOAT_EQ(static_cast<float>(meta.find("llama.attention.layer_norm_rms_epsilon")->as.f), 1e-6f);
  ASSERT_EQ(m->warnings().size(), 1u);
  for (const char* f : {"config.json: sliding_window is 64, less than max_position_embeddings 128",
                        "no sliding-window attention", "llama.context_length is 64", "MistralForCausalLM"})
    EXPECT_NE(m->warnings()[0].find(f), std::string::npos) << "'" << f << "' not in: " << m->warnings()[0];
  expect_all_layers(*m, d);
  // model_type alone names the architecture; a window at least as long as
  // the context, or none (null, as Mistral v0.2 writes), changes nothing.
  d.config.erase("architectures");
  for (const nlohmann::json& window : {nlohmann::json(128), nlohmann::json(4096), nlohmann::json(nullptr)}) {
    SCOPED_TRACE(window.dump());
    d.config["sliding_window"] = window;
    d.write(tmp.path());
    m = HfModel::open(tmp.path());
    EXPECT_EQ(m->config().architecture, "MistralForCausalLM");
    EXPECT_EQ(m->metadata().find("llama.context_length")->as.u, 128u);
    EXPECT_TRUE(m->warnings().empty());
  }
}

// ---- hostile directories ---------------------------------------------------

TEST(HfDirectoryHostile, MissingGIdxWithActOrder) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  d.remove("model.layers.0.self_attn.v_proj.g_idx");
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"model.safetensors", "'model.layers.0.self_attn.v_proj.g_idx' is missing", "desc_act is true",
                     "quantize_config.json"});
}

TEST(HfDirectoryHostile, WrongDtypeForAGptqTensor) {
  TempDir tmp;
  TinyGptqDir d;
  auto* scales = d.entry("model.layers.0.mlp.up_proj.scales");
  scales->dtype = "BF16";
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"model.safetensors", "'model.layers.0.mlp.up_proj.scales'", "dtype is BF16; expected F16"});
  scales->dtype = "F16";
  d.entry("model.layers.0.mlp.up_proj.qweight")->dtype = "F32";
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'model.layers.0.mlp.up_proj.qweight'", "dtype is F32; expected I32"});
}

TEST(HfDirectoryHostile, WrongShapeForAGptqTensor) {
  TempDir tmp;
  TinyGptqDir d;
  auto* qweight = d.entry("model.layers.0.mlp.down_proj.qweight");
  qweight->shape = {24, 32};  // same bytes, wrong shape: config says in 96, out 64
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"'model.layers.0.mlp.down_proj.qweight'", "shape is [24, 32]; expected [12, 64]", "in_features 96"});
}

TEST(HfDirectoryHostile, MismatchedGroupCount) {
  TempDir tmp;
  TinyGptqDir d;
  d.quantize["group_size"] = 64;  // the tensors were written for 32: 2 groups, config now implies 1
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"'model.layers.0.self_attn.q_proj.qzeros'", "shape is [2, 8]; expected [1, 8]", "group_size 64"});
}

TEST(HfDirectoryHostile, GIdxOutOfRange) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  auto& g = d.entry("model.layers.0.mlp.gate_proj.g_idx")->data;
  const int32_t bad = 2;  // two groups: 0 and 1
  std::memcpy(g.data() + 4 * 5, &bad, 4);
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"'model.layers.0.mlp.gate_proj.g_idx'", "entry 5 is 2; expected a group index in [0, 2)"});
}

TEST(HfDirectoryHostile, GIdxWithUnevenGroups) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  std::vector<int32_t> g(64, 0);
  g[63] = 1;  // group 0 gets 63 rows
  d.entry("model.layers.0.mlp.gate_proj.g_idx")->data = as_bytes(g);
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"'model.layers.0.mlp.gate_proj.g_idx'", "group 1 has 1 rows; expected 32"});
}

// The layout packs input rows in units of 32, so a group of 16 cannot be
// represented: refused at open (not at the first inference), although the
// tensors themselves are consistent with it.
TEST(HfDirectoryHostile, GroupSizeNotAMultipleOf32) {
  TempDir tmp;
  TinyGptqDir d;
  std::mt19937 rng(5);
  for (auto& [prefix, layer] : d.layers) {
    layer = GptqLayer::random(layer.in, layer.out, 4, 16, false, rng);
    for (auto& e : layer.entries(prefix, true)) *d.entry(e.name) = e;
  }
  d.quantize["group_size"] = 16;
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED,
                    {"quantize_config.json: field 'group_size' is 16; expected -1 (one group) or a positive "
                     "multiple of 32"});
  d.config["quantization_config"] = d.quantize;
  d.config["quantization_config"]["group_size"] = 48;
  d.write(tmp.path(), /*with_quantize_file=*/false);
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED,
                    {"config.json: field 'quantization_config.group_size' is 48; expected -1 (one group) or a "
                     "positive multiple of 32"});
}

// transformers reads config.json, AutoGPTQ quantize_config.json: when both
// exist they must agree (an absent field counts as its default).
TEST(HfDirectoryHostile, QuantizeConfigAndConfigJsonDisagree) {
  using nlohmann::json;
  const std::tuple<const char*, json, std::string, std::string> cases[] = {
      {"bits", 8, "4", "8"},
      {"group_size", 64, "32", "64"},
      {"desc_act", true, "false", "true"},
      {"sym", false, "true", "false"},
      {"checkpoint_format", "gptq_v2", "\"gptq\"", "\"gptq_v2\""},
      {"desc_act", nullptr, "true", "false"}};  // absent in config.json: false; quantize_config.json says true
  for (const auto& [field, value, ours, theirs] : cases) {
    SCOPED_TRACE(field);
    TempDir tmp;
    const bool absent = value.is_null();
    TinyGptqDir d(/*act_order=*/absent);
    d.config["quantization_config"] = d.quantize;
    d.config["quantization_config"]["quant_method"] = "gptq";
    if (absent) d.config["quantization_config"].erase(field);
    else d.config["quantization_config"][field] = value;
    d.write(tmp.path());
    expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                      {"quantize_config.json: field '" + std::string(field) + "' is " + ours,
                       "config.json: field 'quantization_config." + std::string(field) + "' is " + theirs,
                       "the two files must agree"});
  }
}

// AutoGPTQ v1 stores zero - 1, so an 8-bit group whose zero point is 0 is
// stored as 255 and computed with 256, which the layout's one-byte zero
// points cannot hold. gptq_v2 stores the zero point itself: 255 fits.
TEST(HfDirectoryHostile, EightBitV1ZeroOf256) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/false, 8);
  const std::string prefix = "model.layers.0.mlp.up_proj";
  GptqLayer& l = d.layers.at(prefix);
  l.zeros[1 * l.out + 5] = 0;  // group 1, column 5: stored as (0 - 1) & 255
  for (auto& e : l.entries(prefix, true)) *d.entry(e.name) = e;
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED,
                    {"model.safetensors: tensor 'model.layers.0.mlp.up_proj.qzeros': group 1, column 5 stores 255",
                     "zero point 256", "one byte (0-255)"});
  d.quantize["checkpoint_format"] = "gptq_v2";
  for (auto& [p, layer] : d.layers) {
    if (p == prefix) layer.zeros[1 * l.out + 5] = 255;
    for (auto& e : layer.entries(p, /*v1=*/false)) *d.entry(e.name) = e;
  }
  d.write(tmp.path());
  const auto m = HfModel::open(tmp.path());
  expect_layer(*m, "blk.0.ffn_up.weight", l, 0);
  const auto b = bytes(*m, "blk.0.ffn_up.weight");
  EXPECT_EQ(LayoutView(b.data(), b.size()).zero(1, 5), 255u);
}

TEST(HfDirectoryHostile, BadBits) {
  TempDir tmp;
  TinyGptqDir d;
  d.quantize["bits"] = 2;
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED, {"quantize_config.json", "field 'bits' is 2; expected 4, 8 or 3"});
  d.quantize["bits"] = "4";
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"quantize_config.json", "field 'bits' is \"4\"; expected an integer"});
}

TEST(HfDirectoryHostile, BadQuantizationSettings) {
  TempDir tmp;
  TinyGptqDir d;
  d.quantize["checkpoint_format"] = "marlin";
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED, {"field 'checkpoint_format' is 'marlin'", "\"gptq_v2\""});
  d.quantize["checkpoint_format"] = "gptq";
  d.quantize["group_size"] = 0;
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"field 'group_size' is 0; expected -1 (one group) or a positive multiple of 32"});
  d.quantize["group_size"] = 32;
  d.quantize["quant_method"] = "awq";
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED, {"field 'quant_method' is 'awq'"});
}

TEST(HfDirectoryHostile, QuantizedTensorsWithoutQuantizationConfig) {
  TempDir tmp;
  TinyGptqDir d;
  d.write(tmp.path(), /*with_quantize_file=*/false);
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"no quantize_config.json"});
}

TEST(HfDirectoryHostile, MissingOrMistypedConfigFields) {
  for (const char* field : {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"}) {
    TempDir tmp;
    TinyGptqDir d;
    d.config.erase(field);
    d.write(tmp.path());
    expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"config.json", std::string("field '") + field + "' is missing"});
  }
  TempDir tmp;
  TinyGptqDir d;
  d.config["num_hidden_layers"] = "1";
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"field 'num_hidden_layers' is \"1\"; expected an integer"});
  d.config["num_hidden_layers"] = 1;
  d.config["num_key_value_heads"] = 3;
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'num_key_value_heads' is 3; expected a divisor"});
  d.config["num_key_value_heads"] = 2;
  d.config["architectures"] = {"GPT2LMHeadModel"};
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED, {"'architectures' is [\"GPT2LMHeadModel\"]"});
  d.config["architectures"] = {"LlamaForCausalLM"};
  d.config["rms_norm_eps"] = -1;
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'rms_norm_eps' is -1; expected a positive number"});
  d.config["rms_norm_eps"] = 1e-5;
  d.config["num_hidden_layers"] = 2;  // the file has one layer
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"tensor 'model.layers.1.input_layernorm.weight' is missing"});
  fs::remove(tmp.path() / "config.json");
  EXPECT_FALSE(tessera::gptq::looks_like_hf_directory(tmp.path()));
  expect_open_error(tmp.path(), TESSERA_ERR_IO, {"config.json", "cannot open"});
}

TEST(HfDirectoryHostile, UnusedTensorIsRefused) {
  TempDir tmp;
  TinyGptqDir d;
  d.entries.push_back({"model.layers.0.self_attn.q_proj.bias", "F16", {64}, Bytes(128, 0)});
  d.write(tmp.path());
  EXPECT_NO_THROW(HfModel::open(tmp.path()));  // an all-zero bias (GPTQ-for-LLaMa writes them) changes nothing
  d.entry("model.layers.0.self_attn.q_proj.bias")->data[7] = 0x3c;  // one element 1.0
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED, {"'model.layers.0.self_attn.q_proj.bias' has no place"});
  d.remove("model.layers.0.self_attn.q_proj.bias");
  d.entries.push_back({"model.layers.0.extra.weight", "F16", {4}, Bytes(8, 0)});
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_UNSUPPORTED, {"'model.layers.0.extra.weight' has no place"});
}

TEST(HfDirectoryHostile, NormOfTheWrongSize) {
  TempDir tmp;
  TinyGptqDir d;
  *d.entry("model.norm.weight") = {"model.norm.weight", "F16", {63}, Bytes(126, 0)};
  d.write(tmp.path());
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'model.norm.weight'", "shape is [63]; expected [64]"});
}

// ---- shards ----------------------------------------------------------------

// Splits the tiny model into two shards plus an index; `edit` may corrupt
// the index before it is written.
void write_sharded(const fs::path& dir, TinyGptqDir& d, const std::function<void(nlohmann::json&)>& edit = {}) {
  d.write(dir);
  fs::remove(dir / "model.safetensors");
  const size_t half = d.entries.size() / 2;
  const std::vector<StEntry> a(d.entries.begin(), d.entries.begin() + static_cast<ptrdiff_t>(half));
  const std::vector<StEntry> b(d.entries.begin() + static_cast<ptrdiff_t>(half), d.entries.end());
  write_file(dir / "model-00001-of-00002.safetensors", build_safetensors(a));
  write_file(dir / "model-00002-of-00002.safetensors", build_safetensors(b));
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (const auto& e : a) index["weight_map"][e.name] = "model-00001-of-00002.safetensors";
  for (const auto& e : b) index["weight_map"][e.name] = "model-00002-of-00002.safetensors";
  if (edit) edit(index);
  write_text(dir / "model.safetensors.index.json", index.dump(2));
}

TEST(HfDirectoryShards, ShardedModelLoads) {
  TempDir tmp;
  TinyGptqDir d(/*act_order=*/true);
  write_sharded(tmp.path(), d);
  EXPECT_TRUE(tessera::gptq::looks_like_hf_directory(tmp.path()));
  const auto m = HfModel::open(tmp.path());
  expect_all_layers(*m, d);
  EXPECT_EQ(tensor(*m, "token_embd.weight").file_index, 0u);
}

TEST(HfDirectoryShards, MissingShard) {
  TempDir tmp;
  TinyGptqDir d;
  write_sharded(tmp.path(), d, [](nlohmann::json& index) { index["weight_map"]["lm_head.weight"] = "model-00003-of-00003.safetensors"; });
  expect_open_error(tmp.path(), TESSERA_ERR_IO, {"model.safetensors.index.json", "shard 'model-00003-of-00003.safetensors'",
                                                 "does not exist"});
}

TEST(HfDirectoryShards, TensorInTheWrongShard) {
  TempDir tmp;
  TinyGptqDir d;
  write_sharded(tmp.path(), d, [](nlohmann::json& index) {
    index["weight_map"]["model.embed_tokens.weight"] = "model-00002-of-00002.safetensors";
  });
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT,
                    {"model.safetensors.index.json", "'model.embed_tokens.weight' is mapped to 'model-00002-of-00002.safetensors'",
                     "stored in 'model-00001-of-00002.safetensors'"});
}

TEST(HfDirectoryShards, TensorMissingFromIndexOrShard) {
  TempDir tmp;
  TinyGptqDir d;
  write_sharded(tmp.path(), d, [](nlohmann::json& index) { index["weight_map"].erase("model.norm.weight"); });
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'model.norm.weight'", "is not listed in 'weight_map'"});
  write_sharded(tmp.path(), d, [](nlohmann::json& index) {
    index["weight_map"]["model.extra.weight"] = "model-00001-of-00002.safetensors";
  });
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'model.extra.weight' is mapped to", "which does not contain it"});
}

TEST(HfDirectoryShards, ShardNameMayNotLeaveTheDirectory) {
  TempDir tmp;
  TinyGptqDir d;
  write_sharded(tmp.path(), d, [](nlohmann::json& index) { index["weight_map"]["lm_head.weight"] = "../x.safetensors"; });
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'weight_map.lm_head.weight' is '../x.safetensors'", "no '/'"});
  // Found by fuzz_hf_directory: a name longer than the OS allows threw
  // std::filesystem_error out of the reader.
  const std::string long_name = "model-" + std::string(300, 'a') + ".safetensors";
  write_sharded(tmp.path(), d, [&](nlohmann::json& index) { index["weight_map"]["lm_head.weight"] = long_name; });
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"'weight_map.lm_head.weight' is '" + long_name + "'", "at most 255 bytes"});
  write_sharded(tmp.path(), d, [](nlohmann::json& index) { index["weight_map"] = nlohmann::json::array(); });
  expect_open_error(tmp.path(), TESSERA_ERR_FORMAT, {"field 'weight_map' is missing, empty or not an object"});
}

}  // namespace
