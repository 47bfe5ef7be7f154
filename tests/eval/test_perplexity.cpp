// Perplexity by llama.cpp's method agrees with llama-perplexity's own numbers
// (refs-public/perplexity.json) for the shared stories260K-wide256 models.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eval_test_support.hpp"
#include "perplexity_reference.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/perplexity.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;
using tessera::test::data_dir;

namespace {

constexpr double kTolerance = tessera::test::kPerplexityTolerance;
using Reference = tessera::test::PerplexityReference;
using tessera::test::perplexity_reference;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Perplexity at ctx 256 of a shared model on a shared text, through the
// same steps as `tessera perplexity`.
tessera::PerplexityResult perplexity(const std::string& model, const std::string& text, int64_t max_chunks) {
  tessera::test::TempDir dir("ppl");
  tessera::PluginRegistry registry;
  auto loaded = tessera::load_pipeline(tessera::test::write_pipeline(dir.path(), model, 256), registry,
                                       {tessera::test::build_plugin_dir()});
  if (!loaded.pipeline) throw std::runtime_error(loaded.diagnostics.to_string());
  tessera::Session session(*loaded.pipeline, registry);
  const tessera::Tokenizer& tokenizer = session.tokenizer();
  const auto tokens = tokenizer.encode(read_file(data_dir() / text), tokenizer.adds_bos());
  tessera::PerplexityOptions options;
  options.context = 256;
  options.max_chunks = max_chunks;
  if (tokenizer.adds_bos()) options.bos_id = tokenizer.bos_id();
  return tessera::compute_perplexity(session.runtime(), tokens, options);
}

void expect_matches(const tessera::PerplexityResult& got, const Reference& ref, bool whole_text) {
  ASSERT_FALSE(got.chunks.empty());
  ASSERT_LE(got.chunks.size(), ref.running.size());
  for (std::size_t i = 0; i < got.chunks.size(); ++i)
    EXPECT_NEAR(got.chunks[i].ppl, ref.running[i], kTolerance * ref.running[i]) << "running value after chunk " << i + 1;
  if (whole_text) {
    EXPECT_EQ(got.chunks.size(), ref.running.size());
    EXPECT_NEAR(got.ppl, ref.ppl, kTolerance * ref.ppl);
  }
}

bool full_runs() {
  const char* env = std::getenv("TESSERA_EVAL_FULL");
  return env != nullptr && *env != '\0' && std::string(env) != "0";
}

const char* kF32 = "models/stories260K-wide256/stories260K-wide256-F32.gguf";
const char* kQ8 = "models/stories260K-wide256/stories260K-wide256-Q8_0.gguf";
const char* kWiki = "data/wiki.test.head50k.raw";
const char* kTinyStories = "data/tinystories-sample.txt";

class ReferencePerplexity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::test::have_gguf_and_data(kF32) || !fs::exists(data_dir() / kWiki) ||
        !fs::exists(data_dir() / "refs-public/perplexity.json"))
      GTEST_SKIP() << "needs the gguf and cpu plugins and the shared models, texts and references";
  }
};

}  // namespace

TEST(LogProbability, IsLogSoftmaxInDouble) {
  const std::vector<float> uniform(512, 3.0f);
  EXPECT_NEAR(tessera::token_log_probability(uniform, 7), -std::log(512.0), 1e-12);
  // Large logits must not overflow: the maximum is subtracted first.
  const std::vector<float> big{1000.0f, 1000.0f, 0.0f};
  EXPECT_NEAR(tessera::token_log_probability(big, 0), -std::log(2.0 + std::exp(-1000.0)), 1e-12);
  EXPECT_THROW(tessera::token_log_probability(big, 3), tessera::Error);
}

TEST(LogProbability, ScoredPositionsAreTheSecondHalf) {
  EXPECT_EQ(tessera::perplexity_first_scored(256), 128);
  EXPECT_EQ(tessera::perplexity_first_scored(512), 256);
}

// The whole wiki slice: the final value and every running value (124 chunks).
TEST_F(ReferencePerplexity, F32WikiMatchesLlamaCpp) {
  const auto got = perplexity(kF32, kWiki, 0);
  expect_matches(got, perplexity_reference("-F32.gguf", "wiki.test.head50k.raw"), true);
  EXPECT_EQ(got.scored, 124 * 127);
  EXPECT_GT(got.ppl_error, 0);
}

// The model's own kind of text (ppl 5.43 against wiki's 130): the whole
// sample, final and running values (60 chunks).
TEST_F(ReferencePerplexity, F32TinyStoriesMatchesLlamaCpp) {
  if (!fs::exists(data_dir() / kTinyStories)) GTEST_SKIP() << "no " << kTinyStories;
  const Reference ref = perplexity_reference("-F32.gguf", "tinystories-sample.txt");
  const auto got = perplexity(kF32, kTinyStories, 0);
  expect_matches(got, ref, true);
  EXPECT_EQ(got.scored, static_cast<int64_t>(ref.running.size()) * 127);
  EXPECT_GT(got.ppl_error, 0);
}

// Q8_0 follows F32 closely, so its first chunks test the quantized path;
// TESSERA_EVAL_FULL=1 runs the whole text and checks the final value.
TEST_F(ReferencePerplexity, Q8_0WikiMatchesLlamaCpp) {
  if (!fs::exists(data_dir() / kQ8)) GTEST_SKIP() << "no Q8_0 model";
  const bool full = full_runs();
  expect_matches(perplexity(kQ8, kWiki, full ? 0 : 12), perplexity_reference("-Q8_0.gguf", "wiki.test.head50k.raw"),
                 full);
}

TEST_F(ReferencePerplexity, ChunksLimitAndRunningValuesAreConsistent) {
  const auto got = perplexity(kF32, kWiki, 3);
  ASSERT_EQ(got.chunks.size(), 3u);
  // The running value is exp of the mean of the per-chunk NLLs (equal counts).
  const double mean = (got.chunks[0].chunk_nll + got.chunks[1].chunk_nll + got.chunks[2].chunk_nll) / 3.0;
  EXPECT_NEAR(got.ppl, std::exp(mean), 1e-9 * got.ppl);
  EXPECT_EQ(got.chunks[2].chunks, 3);
}

TEST_F(ReferencePerplexity, RefusesShortTextAndOversizedContext) {
  tessera::test::TempDir dir("ppl-errors");
  tessera::PluginRegistry registry;
  auto loaded = tessera::load_pipeline(tessera::test::write_pipeline(dir.path(), kF32, 256), registry,
                                       {tessera::test::build_plugin_dir()});
  ASSERT_TRUE(loaded.pipeline) << loaded.diagnostics.to_string();
  tessera::Session session(*loaded.pipeline, registry);
  tessera::PerplexityOptions options;
  options.context = 256;
  const std::vector<int32_t> short_text(511, 5);
  EXPECT_THROW(tessera::compute_perplexity(session.runtime(), short_text, options), tessera::Error);
  const std::vector<int32_t> enough(1024, 5);
  options.context = 512;
  EXPECT_THROW(tessera::compute_perplexity(session.runtime(), enough, options), tessera::Error);
  options.context = 2;
  EXPECT_THROW(tessera::compute_perplexity(session.runtime(), enough, options), tessera::Error);
}
