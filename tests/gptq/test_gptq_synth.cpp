// `tessera synth --format gptq` (core's synthesize_gptq_model): the written
// directory must load through the gptq reader with the shape's dimensions,
// GPTQ layouts of the requested bits / group / act-order, and a
// tokenizer.model that SentencePiece itself accepts.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "gptq_layout_view.hpp"
#include "hf_model.hpp"
#include "safetensors_test_writer.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/gptq_synth.hpp"
#include "tessera/core/sentencepiece_tokenizer.hpp"

namespace {

using namespace tessera::test::gptq;
using tessera::gptq::HfModel;

void expect_model_of_shape(const HfModel& m, const tessera::ModelShape& s, uint32_t bits, uint32_t group_size,
                           bool act_order) {
  auto u = [&](const char* key) { return m.metadata().find(key) ? m.metadata().find(key)->as.u : ~0ull; };
  EXPECT_EQ(u("llama.embedding_length"), static_cast<uint64_t>(s.embedding));
  EXPECT_EQ(u("llama.block_count"), static_cast<uint64_t>(s.layers));
  EXPECT_EQ(u("llama.attention.head_count"), static_cast<uint64_t>(s.heads));
  EXPECT_EQ(u("llama.attention.head_count_kv"), static_cast<uint64_t>(s.kv_heads));
  EXPECT_EQ(u("llama.feed_forward_length"), static_cast<uint64_t>(s.feed_forward));
  EXPECT_EQ(u("llama.vocab_size"), static_cast<uint64_t>(s.vocab_size));
  EXPECT_EQ(u("llama.context_length"), static_cast<uint64_t>(s.context));
  EXPECT_EQ(u("gptq.bits"), bits);
  const auto e = static_cast<uint64_t>(s.embedding), ff = static_cast<uint64_t>(s.feed_forward);
  const auto kv = static_cast<uint64_t>(s.head_dim() * s.kv_heads);
  EXPECT_EQ(m.find_tensor("output.weight").has_value(), !s.tied_embeddings);
  EXPECT_EQ(m.tensor(*m.find_tensor("token_embd.weight")).dims, (std::vector<uint64_t>{e, static_cast<uint64_t>(s.vocab_size)}));
  const int32_t dtype = bits == 4 ? TESSERA_DTYPE_GPTQ_4BIT : bits == 8 ? TESSERA_DTYPE_GPTQ_8BIT : TESSERA_DTYPE_GPTQ_3BIT;
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    for (const auto& [name, in, out] : {std::tuple{"attn_q", e, e}, std::tuple{"attn_k", e, kv}, std::tuple{"attn_v", e, kv},
                                        std::tuple{"attn_output", e, e}, std::tuple{"ffn_gate", e, ff},
                                        std::tuple{"ffn_up", e, ff}, std::tuple{"ffn_down", ff, e}}) {
      SCOPED_TRACE(b + name);
      const uint64_t index = *m.find_tensor(b + name + ".weight");
      EXPECT_EQ(m.tensor(index).dtype, dtype);
      EXPECT_EQ(m.tensor(index).dims, (std::vector<uint64_t>{in, out}));
      const auto bytes = m.read_all(index);
      const LayoutView v(bytes.data(), bytes.size());
      v.expect_consistent(bits, in, out, group_size == 0 ? static_cast<uint32_t>(in) : group_size);
      EXPECT_EQ((v.header().flags & TESSERA_GPTQ_FLAG_ACT_ORDER) != 0, act_order);
      EXPECT_EQ(v.zero(0, 0), 1u << (bits - 1));  // symmetric: the real zero after undoing v1's minus one
    }
  }
}

TEST(GptqSynth, FourBitGroup128LoadsWithTheShapesDimensions) {
  TempDir tmp;
  const auto& shape = tessera::find_model_shape("stories15m");
  tessera::GptqSynthOptions options;
  const auto stats = tessera::synthesize_gptq_model(shape, options, tmp.path() / "m");
  EXPECT_EQ(stats.quantized, 7u * 6u);
  const auto m = HfModel::open(tmp.path() / "m");
  expect_model_of_shape(*m, shape, 4, 128, false);
  // The placeholder tokenizer is a real SentencePiece model of the vocabulary size.
  const tessera::SentencePieceTokenizer tokenizer(tmp.path() / "m/tokenizer.model");
  EXPECT_EQ(tokenizer.vocab_size(), shape.vocab_size);
  const auto ids = tokenizer.encode("hi", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);  // BOS
}

TEST(GptqSynth, ThreeBitActOrderAndEightBitOneGroup) {
  const auto& shape = tessera::find_model_shape("stories15m");
  {
    TempDir tmp;
    tessera::GptqSynthOptions options;
    options.bits = 3;
    options.group_size = 32;
    options.act_order = true;
    tessera::synthesize_gptq_model(shape, options, tmp.path() / "m");
    expect_model_of_shape(*HfModel::open(tmp.path() / "m"), shape, 3, 32, true);
  }
  {
    TempDir tmp;
    tessera::GptqSynthOptions options;
    options.bits = 8;
    options.group_size = -1;
    tessera::synthesize_gptq_model(shape, options, tmp.path() / "m");
    expect_model_of_shape(*HfModel::open(tmp.path() / "m"), shape, 8, 0, false);
  }
}

// What an open model keeps on the heap: the GPTQ layouts are as large as the
// weights and are built when read (hf_model.hpp), so opening may not cost a
// copy of them. A 7B model once held 3.6 GiB of layouts after the backend
// had copied them, 11.1 GiB peak RSS against 7.7 GiB for Q4_0.
TEST(GptqSynth, OpenModelHoldsNoCopyOfTheLayouts) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  TempDir tmp;
  tessera::synthesize_gptq_model(tessera::find_model_shape("stories15m"), {}, tmp.path() / "m");
  auto heap = [] {
    const struct mallinfo2 info = mallinfo2();
    return static_cast<uint64_t>(info.uordblks + info.hblkhd);  // in use: arena + mmapped chunks
  };
  const uint64_t before = heap();
  const auto m = HfModel::open(tmp.path() / "m");
  const uint64_t held = heap() - before;
  uint64_t layouts = 0;
  for (uint64_t i = 0; i < m->tensor_count(); ++i)
    if (m->tensor(i).dtype == TESSERA_DTYPE_GPTQ_4BIT) layouts += m->tensor(i).n_bytes;
  RecordProperty("held_heap_bytes", std::to_string(held));
  ASSERT_GT(layouts, 3000000u);
  EXPECT_LT(held, layouts / 8) << "the open model holds " << held << " heap bytes; its GPTQ layouts are " << layouts;
#else
  GTEST_SKIP() << "needs glibc's mallinfo2";
#endif
}

// Resident bytes of this process's mappings of `file` (Linux smaps), or
// nullopt where the kernel does not say.
std::optional<uint64_t> resident_bytes_of_mapping(const std::filesystem::path& file) {
  std::ifstream smaps("/proc/self/smaps");
  if (!smaps) return std::nullopt;
  const std::string wanted = std::filesystem::canonical(file).string();
  bool inside = false, seen = false;
  uint64_t kib = 0;
  for (std::string line; std::getline(smaps, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < line.find(' ')) {
      inside = line.size() >= wanted.size() && line.compare(line.size() - wanted.size(), wanted.size(), wanted) == 0;
      seen = seen || inside;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      kib += std::stoull(line.substr(4));
    }
  }
  if (!seen) return std::nullopt;
  return kib * 1024;
}

// The host copies each GPTQ layout into its backend through tensor_read; the
// checkpoint pages the build read leave the process's resident set after it
// (they were a second copy of the weights: 7.4 GiB peak RSS for a 7B g128
// model against 4.3 GiB without them).
TEST(GptqSynth, BuildingALayoutReleasesTheCheckpointPagesItRead) {
  TempDir tmp;
  tessera::synthesize_gptq_model(tessera::find_model_shape("stories15m"), {}, tmp.path() / "m");
  const auto m = HfModel::open(tmp.path() / "m");
  const auto before = resident_bytes_of_mapping(tmp.path() / "m/model.safetensors");
  if (!before) GTEST_SKIP() << "no /proc/self/smaps entry for the mapped checkpoint";
  uint64_t built = 0;
  for (uint64_t i = 0; i < m->tensor_count(); ++i) {
    if (m->tensor(i).data != nullptr) continue;  // mapped in place: the host's to release
    const auto bytes = m->read_all(i);
    built += bytes.size();
  }
  const uint64_t after = *resident_bytes_of_mapping(tmp.path() / "m/model.safetensors");
  RecordProperty("resident_before", std::to_string(*before));
  RecordProperty("resident_after", std::to_string(after));
  ASSERT_GT(built, 3000000u);
  // Partial pages at tensor edges may stay: two per source tensor at most.
  EXPECT_LT(after, *before + built / 8) << "reading " << built << " bytes of layouts left " << after - *before
                                         << " more bytes of the checkpoint resident";
}

TEST(GptqSynth, RefusesGroupSizesTheReaderRefuses) {
  const auto& shape = tessera::find_model_shape("stories15m");
  for (int64_t group_size : {16, 48, 0, -2}) {
    SCOPED_TRACE(group_size);
    TempDir tmp;
    tessera::GptqSynthOptions options;
    options.group_size = group_size;
    try {
      tessera::synthesize_gptq_model(shape, options, tmp.path() / "m");
      ADD_FAILURE() << "group size " << group_size << " was accepted";
    } catch (const tessera::Error& e) {
      EXPECT_EQ(e.code(), TESSERA_ERR_INVALID_ARGUMENT);
      EXPECT_NE(std::string(e.what()).find("GPTQ group size " + std::to_string(group_size) +
                                           " is not supported; expected -1 (one group) or a positive multiple of 32"),
                std::string::npos)
          << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "m"));  // refused before writing anything
  }
}

TEST(GptqSynth, RefusesShapesGptqCannotPack) {
  TempDir tmp;
  try {
    tessera::synthesize_gptq_model(tessera::find_model_shape("stories260k"), {}, tmp.path() / "m");
    ADD_FAILURE() << "stories260k (ffn 172) was accepted";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("mlp.gate_proj is 172 x 64"), std::string::npos) << e.what();
  }
  tessera::GptqSynthOptions options;
  options.bits = 2;
  EXPECT_THROW(tessera::synthesize_gptq_model(tessera::find_model_shape("stories15m"), options, tmp.path() / "n"),
               tessera::Error);
}

}  // namespace
