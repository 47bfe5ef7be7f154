// Sampler chains from the YAML files in config/ applied inside generation on
// the real stories260K model: a fixed seed gives the same text run after run
// and across thread counts, and greedy equals top-k 1.
#include <gtest/gtest.h>

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
