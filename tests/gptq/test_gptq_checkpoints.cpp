// The two shared GPTQ checkpoints (stories260K-wide256, 4-bit group 32,
// plain and act-order). Three independent checks:
//  1. metadata and tensor table as the llama runtime needs them;
//  2. the built layout dequantizes to exactly what shared/models/README.md's
//     formula gives on the ORIGINAL safetensors tensors (read here with the
//     test's own header reader), after undoing perm and the q/k permutation;
//  3. every dequantized weight is within half a quantization step of the F32
//     GGUF the checkpoint was made from, in the GGUF's (adjacent-pair) row
//     order: this checks the q/k permutation against llama.cpp's converter.
// Plus the host's view: core's ModelFile picks the gptq plugin by probe and
// read_hyper_params accepts the published metadata.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gguf_model.hpp"
#include "gptq_layout_view.hpp"
#include "hf_model.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/model_params.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "test_data.hpp"

namespace {

namespace fs = std::filesystem;
using tessera::gptq::HfModel;
using tessera::test::gptq::LayoutView;

fs::path models() { return tessera::test::data_dir() / "models"; }
fs::path plain_dir() { return models() / "stories260K-wide256-gptq-4bit-g32"; }
fs::path actorder_dir() { return models() / "stories260K-wide256-gptq-4bit-g32-actorder"; }
fs::path f32_gguf() { return models() / "stories260K-wide256/stories260K-wide256-F32.gguf"; }

#define REQUIRE_DATA(path) \
  if (!fs::exists(path)) GTEST_SKIP() << (path).string() << " is missing (set TESSERA_TEST_DATA)"

// The test's own safetensors reader: the whole file and its JSON header.
struct RawSafetensors {
  std::vector<uint8_t> bytes;
  nlohmann::json header;
  uint64_t data_offset = 0;
  explicit RawSafetensors(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<size_t>(i)];
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<ptrdiff_t>(n));
    data_offset = 8 + n;
  }
  std::vector<uint64_t> shape(const std::string& name) const { return header.at(name).at("shape"); }
  template <class T>
  T at(const std::string& name, uint64_t index) const {
    const uint64_t begin = header.at(name).at("data_offsets")[0];
    T v;
    std::memcpy(&v, bytes.data() + data_offset + begin + index * sizeof(T), sizeof(T));
    return v;
  }
};

// README: W[o,c] = scales[g_idx[c],o] * (code[c,o] - (stored_zero[g_idx[c],o] + 1)),
// nibble k of qweight[r,o] = code of row 8r+k, nibble k of qzeros[g,j] = zero(g, 8j+k) - 1.
float readme_weight(const RawSafetensors& f, const std::string& p, uint64_t out, uint64_t o, uint64_t c) {
  const auto g = static_cast<uint64_t>(f.at<int32_t>(p + ".g_idx", c));
  const uint32_t code = (f.at<uint32_t>(p + ".qweight", (c / 8) * out + o) >> (4 * (c % 8))) & 15u;
  const uint32_t stored = (f.at<uint32_t>(p + ".qzeros", g * (out / 8) + o / 8) >> (4 * (o % 8))) & 15u;
  const float scale = tessera::quant::f16_to_f32(f.at<uint16_t>(p + ".scales", g * out + o));
  return scale * (static_cast<float>(code) - static_cast<float>(stored + 1));
}

// HF row of the GGUF (adjacent-pair) row `row`: per head of d rows, GGUF row
// 2i + j holds HF row j * d/2 + i (llama.cpp convert_hf_to_gguf's permute).
uint64_t hf_row(uint64_t row, uint64_t rows, uint64_t heads) {
  if (heads == 0) return row;
  const uint64_t d = rows / heads;
  return row / d * d + (row % 2) * (d / 2) + (row % d) / 2;
}

struct Projection {
  const char* hf;
  const char* tessera;
  uint64_t in, out, rope_heads;
};
constexpr Projection kProjections[] = {
    {"self_attn.q_proj", "attn_q", 256, 256, 32}, {"self_attn.k_proj", "attn_k", 256, 128, 16},
    {"self_attn.v_proj", "attn_v", 256, 128, 0},  {"self_attn.o_proj", "attn_output", 256, 256, 0},
    {"mlp.gate_proj", "ffn_gate", 256, 256, 0},   {"mlp.up_proj", "ffn_up", 256, 256, 0},
    {"mlp.down_proj", "ffn_down", 256, 256, 0}};

std::string meta_string(const HfModel& m, const char* key) {
  const tessera_value* v = m.metadata().find(key);
  return v && v->type == TESSERA_VALUE_STRING ? std::string(v->as.s.data, v->as.s.size) : "";
}

void expect_metadata_and_tensors(const fs::path& dir, bool act_order) {
  const auto m = HfModel::open(dir);
  const auto& meta = m->metadata();
  auto u = [&](const char* key) { return meta.find(key) ? meta.find(key)->as.u : ~0ull; };
  EXPECT_EQ(meta_string(*m, "general.architecture"), "llama");
  EXPECT_EQ(meta_string(*m, "general.name"), dir.filename().string());
  EXPECT_EQ(u("llama.embedding_length"), 256u);
  EXPECT_EQ(u("llama.block_count"), 5u);
  EXPECT_EQ(u("llama.attention.head_count"), 32u);
  EXPECT_EQ(u("llama.attention.head_count_kv"), 16u);
  EXPECT_EQ(u("llama.feed_forward_length"), 256u);
  EXPECT_EQ(u("llama.context_length"), 2048u);
  EXPECT_EQ(u("llama.vocab_size"), 512u);
  EXPECT_EQ(u("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(u("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(u("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(u("gptq.bits"), 4u);
  EXPECT_EQ(meta.find("gptq.group_size")->as.i, 32);
  EXPECT_EQ(meta.find("gptq.desc_act")->as.b, act_order ? 1 : 0);
  EXPECT_EQ(meta_string(*m, "gptq.checkpoint_format"), "gptq");
  EXPECT_EQ(static_cast<float>(meta.find("llama.attention.layer_norm_rms_epsilon")->as.f), 2.5e-6f);
  EXPECT_EQ(meta.find("llama.rope.freq_base")->as.f, 10000.0);
  EXPECT_EQ(fs::path(meta_string(*m, "tokenizer.model_file")), fs::absolute(dir / "tokenizer.model").lexically_normal());

  ASSERT_EQ(m->tensor_count(), 48u);  // embeddings, 5 x (2 norms + 7 projections), output norm, output
  auto expect = [&](const std::string& name, int32_t dtype, std::vector<uint64_t> dims) {
    const auto index = m->find_tensor(name);
    ASSERT_TRUE(index.has_value()) << name;
    EXPECT_EQ(m->tensor(*index).dtype, dtype) << name;
    EXPECT_EQ(m->tensor(*index).dims, dims) << name;
  };
  expect("token_embd.weight", TESSERA_DTYPE_F16, {256, 512});
  expect("output.weight", TESSERA_DTYPE_F16, {256, 512});
  expect("output_norm.weight", TESSERA_DTYPE_F32, {256});
  for (int l = 0; l < 5; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    expect(b + "attn_norm.weight", TESSERA_DTYPE_F32, {256});
    expect(b + "ffn_norm.weight", TESSERA_DTYPE_F32, {256});
    for (const Projection& p : kProjections) expect(b + p.tessera + ".weight", TESSERA_DTYPE_GPTQ_4BIT, {p.in, p.out});
  }
}

TEST(GptqCheckpoints, MetadataAndTensors) {
  REQUIRE_DATA(plain_dir());
  REQUIRE_DATA(actorder_dir());
  expect_metadata_and_tensors(plain_dir(), false);
  expect_metadata_and_tensors(actorder_dir(), true);
}

// Half a step, plus the scale's own f16 rounding (relative 2^-11) times the
// largest |code - zero| of 15: RTN chose codes with the unrounded scale.
constexpr double kHalfStep = 0.5 + 15.0 / 2048.0;

// Checks 2 and 3 for every projection of one checkpoint; `worst_steps` is
// the largest distance to the F32 weight in units of the quantization step.
void check_against_sources(const fs::path& dir, bool act_order, double& worst_steps) {
  const auto m = HfModel::open(dir);
  const RawSafetensors raw(dir / "model.safetensors");
  const auto gguf = tessera::gguf::GgufModel::open(f32_gguf().string(), tessera::sdk::Log());
  worst_steps = 0;
  for (int l = 0; l < 5; ++l) {
    for (const Projection& p : kProjections) {
      const std::string hf = "model.layers." + std::to_string(l) + "." + p.hf;
      const std::string name = "blk." + std::to_string(l) + "." + p.tessera + ".weight";
      SCOPED_TRACE(name);
      const auto bytes = m->read_all(*m->find_tensor(name));
      const LayoutView v(bytes.data(), bytes.size());
      v.expect_consistent(4, p.in, p.out, 32);
      EXPECT_EQ((v.header().flags & TESSERA_GPTQ_FLAG_ACT_ORDER) != 0, act_order);
      EXPECT_NE(v.header().flags & TESSERA_GPTQ_FLAG_SYMMETRIC, 0u);
      const auto& ref = gguf->tensor(*gguf->find_tensor(name));
      uint64_t misfits_if_unpermuted = 0, moved = 0;
      ASSERT_EQ(ref.record->dtype, TESSERA_DTYPE_F32);
      ASSERT_EQ(ref.record->dims[0], p.in);
      ASSERT_EQ(ref.record->dims[1], p.out);
      for (uint64_t n = 0; n < p.out; ++n) {
        const uint64_t o = hf_row(n, p.out, p.rope_heads);
        for (uint64_t k = 0; k < p.in; ++k) {
          const auto c = static_cast<uint64_t>(v.perm(k));
          const float w = v.weight_at_row(k, n);
          ASSERT_EQ(w, readme_weight(raw, hf, p.out, o, c)) << "row " << n << " input " << c;
          float f32;
          std::memcpy(&f32, ref.data + 4 * (n * p.in + c), 4);
          const float step = v.scale(k / 32, n);
          const double steps = std::fabs(double{w} - double{f32}) / step;
          worst_steps = std::max(worst_steps, steps);
          ASSERT_LE(steps, kHalfStep) << "row " << n << " input " << c << ": " << w << " vs F32 " << f32;
          // Control: against the un-permuted (HF) row the q/k weights must not fit.
          if (p.rope_heads > 0 && o != n) {
            float wrong;
            std::memcpy(&wrong, ref.data + 4 * (o * p.in + c), 4);
            misfits_if_unpermuted += std::fabs(double{w} - double{wrong}) / step > kHalfStep;
            moved += 1;
          }
        }
      }
      if (p.rope_heads > 0) {
        EXPECT_GT(misfits_if_unpermuted, moved / 2);
      }
    }
  }
}

TEST(GptqCheckpoints, LayoutMatchesReadmeFormulaAndF32Gguf) {
  REQUIRE_DATA(plain_dir());
  REQUIRE_DATA(f32_gguf());
  double worst = 0;
  check_against_sources(plain_dir(), false, worst);
  EXPECT_GT(worst, 0.4);  // round-to-nearest really uses the half step
  RecordProperty("worst_distance_in_steps", std::to_string(worst));
}

TEST(GptqCheckpoints, ActOrderLayoutMatchesReadmeFormulaAndF32Gguf) {
  REQUIRE_DATA(actorder_dir());
  REQUIRE_DATA(f32_gguf());
  double worst = 0;
  check_against_sources(actorder_dir(), true, worst);
  EXPECT_GT(worst, 0.4);
}

// The host side: plugin discovery picks gptq for the directory, and the
// runtime's parameter reader accepts what it publishes.
TEST(GptqCheckpoints, HostOpensTheDirectoryThroughThePlugin) {
  REQUIRE_DATA(plain_dir());
  const fs::path plugin = tessera::test::build_plugin_dir() / "libtessera_gptq.so";
  if (!fs::exists(plugin)) GTEST_SKIP() << plugin.string() << " is not built";
  tessera::PluginRegistry registry;
  registry.discover({tessera::test::build_plugin_dir()});
  const tessera::ModelFile model(plain_dir(), registry);
  EXPECT_EQ(model.format_name(), "gptq");
  const auto hp = tessera::read_hyper_params(model);
  EXPECT_EQ(hp.embedding_length, 256);
  EXPECT_EQ(hp.block_count, 5);
  EXPECT_EQ(hp.head_count, 32);
  EXPECT_EQ(hp.head_count_kv, 16);
  EXPECT_EQ(hp.feed_forward_length, 256);
  EXPECT_EQ(hp.vocab_size, 512);
  EXPECT_EQ(hp.context_length, 2048);
  EXPECT_EQ(hp.rope_dimension_count, 8);
  EXPECT_FLOAT_EQ(static_cast<float>(hp.rms_epsilon), 2.5e-6f);
  const auto* q = model.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dtype, TESSERA_DTYPE_GPTQ_4BIT);
  const auto q_index = static_cast<size_t>(q - model.tensors().data());
  // The layout is built when read, never held by the plugin: no mapping, the
  // host reads it (core's fallback), and the embeddings still map in place.
  EXPECT_EQ(model.map_tensor(q_index), nullptr);
  const auto bytes = model.read_tensor(q_index);
  LayoutView(bytes.data(), bytes.size()).expect_consistent(4, 256, 256, 32);
  const auto* embd = model.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_NE(model.map_tensor(static_cast<size_t>(embd - model.tensors().data())), nullptr);
  EXPECT_EQ(model.get_string("tokenizer.model_file").value_or(""),
            fs::absolute(plain_dir() / "tokenizer.model").lexically_normal().string());
  // Naming the weights file instead of the directory opens the same model.
  const tessera::ModelFile by_file(plain_dir() / "model.safetensors", registry);
  EXPECT_EQ(by_file.format_name(), "gptq");
  EXPECT_EQ(by_file.tensors().size(), model.tensors().size());
  // A GGUF file is not the gptq plugin's.
  if (fs::exists(f32_gguf())) {
    EXPECT_EQ(tessera::ModelFile(f32_gguf(), registry).format_name(), "gguf");
  }
}

}  // namespace
