// Sampler chains from the YAML files in config/ applied inside generation on
// the real stories260K model: a fixed seed gives the same text run after run
// and across thread counts, and greedy equals top-k 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "test_data.hpp"
#include "tessera/core/generator.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;

namespace {

// Generates `n` tokens with the pipeline in `file`, after `edit` (overrides).
std::vector<int32_t> generate(const fs::path& file, int n, const std::function<void(YAML::Node&)>& edit = {}) {
  tessera::PluginRegistry registry;
  auto loaded = tessera::load_pipeline(file, registry, {tessera::test::build_plugin_dir()}, edit);
  if (!loaded.pipeline) throw std::runtime_error(loaded.diagnostics.to_string());
  tessera::Session session(*loaded.pipeline, registry);
  tessera::Generator generator(session.runtime(), session.tokenizer(), session.sampler());
  tessera::GenerationSettings settings;
  settings.max_tokens = n;
  settings.stop_at_eos = false;
  return generator.generate("Once upon a time", settings).generated_ids;
}

auto set_threads(int threads) {
  return [threads](YAML::Node& doc) { doc["compute"][0]["threads"] = threads; };
}

class SamplingGeneration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
      GTEST_SKIP() << "the gguf format plugin is not built";
    if (!fs::exists(tessera::test::data_dir() / "models/stories260K.gguf"))
      GTEST_SKIP() << "shared models are missing (set TESSERA_TEST_DATA)";
    ::setenv("TESSERA_TEST_DATA", tessera::test::data_dir().c_str(), 1);
    dir = fs::temp_directory_path() / ("tessera-sampling-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path config(const std::string& name) const { return tessera::test::source_dir() / "config" / name; }
  fs::path write(const std::string& name, const std::string& sampling) const {
    std::ofstream(dir / name) << "model: { path: \"" << (tessera::test::data_dir() / "models/stories260K.gguf").string()
                              << "\" }\ncompute: [ { backend: cpu, threads: 2 } ]\ncontext: { size: 256 }\n"
                              << sampling;
    return dir / name;
  }
  fs::path dir;
};

}  // namespace

TEST_F(SamplingGeneration, SameSeedSameTextAcrossRunsAndThreadCounts) {
  for (const char* name : {"chat.yaml", "creative.yaml", "mirostat-v1.yaml", "mirostat-v2.yaml"}) {
    SCOPED_TRACE(name);
    const auto first = generate(config(name), 40, set_threads(1));
    EXPECT_EQ(generate(config(name), 40, set_threads(1)), first);
    EXPECT_EQ(generate(config(name), 40, set_threads(2)), first);
  }
}

TEST_F(SamplingGeneration, AnotherSeedGivesAnotherText) {
  const auto seed = [](int64_t s) {
    return [s](YAML::Node& doc) { doc["sampling"][5]["seed"] = s; };  // chat.yaml: the dist sampler
  };
  EXPECT_NE(generate(config("chat.yaml"), 40, seed(1)), generate(config("chat.yaml"), 40, seed(2)));
}

TEST_F(SamplingGeneration, GreedyEqualsTopK1) {
  const auto greedy = generate(write("greedy.yaml", "sampling: [ { name: greedy } ]\n"), 48);
  const auto top_k = generate(write("top_k.yaml", "sampling: [ { name: top_k, k: 1 }, { name: dist, seed: 3 } ]\n"), 48);
  EXPECT_EQ(greedy, top_k);
  // And both equal the chain-less (argmax) decoding.
  EXPECT_EQ(generate(write("none.yaml", ""), 48), greedy);
}

// model.tokenizer: the stories vocabulary as a tokenizer.model gives the same
// text as the vocabulary inside the GGUF file.
TEST_F(SamplingGeneration, TokenizerModelFileGivesTheSameText) {
  const auto gguf_vocab = generate(write("vocab.yaml", ""), 32);
  std::ofstream(dir / "spm.yaml") << "model: { path: \"" << (tessera::test::data_dir() / "models/stories260K.gguf").string()
                                  << "\", tokenizer: \"" << (tessera::test::data_dir() / "models/tok512.model").string()
                                  << "\" }\ncompute: [ { backend: cpu, threads: 2 } ]\ncontext: { size: 256 }\n";
  EXPECT_EQ(generate(dir / "spm.yaml", 32), gguf_vocab);
}

// DRY's default "\n" breaker fires on the real vocabulary, where a newline is
// the byte token "<0x0A>": samplers see decoded token texts, with the GGUF
// vocabulary and with a tokenizer.model alike.
TEST_F(SamplingGeneration, DryNewlineBreakerFiresOnTheRealVocabulary) {
  const fs::path model = tessera::test::data_dir() / "models/stories260K.gguf";
  const fs::path sp_model = tessera::test::data_dir() / "models/tok512.model";
  for (const std::string& tokenizer : {std::string(), "\", tokenizer: \"" + sp_model.string()}) {
    SCOPED_TRACE(tokenizer.empty() ? "gguf vocabulary" : "tokenizer.model");
    // Returns the token greedy picks after DRY saw `history`.
    const auto pick_after = [&](const std::string& breakers, const std::vector<int32_t>& history,
                                const std::vector<float>& logits) {
      std::ofstream(dir / "dry.yaml") << "model: { path: \"" << model.string() << tokenizer
                                      << "\" }\ncompute: [ { backend: cpu, threads: 1 } ]\ncontext: { size: 64 }\n"
                                      << "sampling: [ { name: dry, multiplier: 1, base: 2, allowed_length: 2" << breakers
                                      << " }, { name: greedy } ]\n";
      tessera::PluginRegistry registry;
      auto loaded = tessera::load_pipeline(dir / "dry.yaml", registry, {tessera::test::build_plugin_dir()});
      if (!loaded.pipeline) throw std::runtime_error(loaded.diagnostics.to_string());
      tessera::Session session(*loaded.pipeline, registry);
      session.sampler()->reset();
      for (int32_t id : history) session.sampler()->accept(id);
      return session.sampler()->sample(logits);
    };
    tessera::PluginRegistry registry;
    auto loaded = tessera::load_pipeline(write("vocab.yaml", ""), registry, {tessera::test::build_plugin_dir()});
    ASSERT_TRUE(loaded.pipeline) << loaded.diagnostics.to_string();
    const tessera::Session session(*loaded.pipeline, registry);
    const auto& vocab = session.tokenizer();
    const auto& texts = vocab.token_texts();
    const auto newline = std::find(texts.begin(), texts.end(), "<0x0A>");
    ASSERT_NE(newline, texts.end()) << "the stories vocabulary has no newline byte token";
    const auto nl = static_cast<int32_t>(newline - texts.begin());
    ASSERT_EQ(vocab.piece(nl), "\n");
    const std::vector<int32_t> words = vocab.encode(" the cat sat", false);
    ASSERT_GE(words.size(), 3u);
    const int32_t a = words[0], b = words[1], w = words[2];
    ASSERT_TRUE(a != b && b != w && a != w);
    // a \n b w a \n b: without the breaker the tail "a \n b" repeats and w,
    // which followed it, loses 1 * 2^(3 - 2) = 2 and greedy takes b instead.
    // With it, the run after the last newline ("b") is too short to penalize.
    std::vector<float> logits(static_cast<std::size_t>(vocab.vocab_size()), 0.0f);
    logits[static_cast<std::size_t>(w)] = 1.0f;
    logits[static_cast<std::size_t>(b)] = 0.5f;
    const std::vector<int32_t> history = {a, nl, b, w, a, nl, b};
    EXPECT_EQ(pick_after("", history, logits), w);
    EXPECT_EQ(pick_after(", sequence_breakers: ['@@@']", history, logits), b);
  }
}
