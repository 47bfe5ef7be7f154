// A session over the shared GPTQ checkpoint from a pipeline that names only
// the directory: the format is detected as gptq and the tokenizer.model
// comes from the plugin's tokenizer.model_file key (core/src/session.cpp),
// tokenizing the prompt exactly as the reference run in
// shared/refs-public/gptq_4bit_g32_greedy.json did. The numerical end-to-end
// comparison lives in tests/e2e/test_gptq_reference.cpp. Any error opening
// the session fails the test (the cpu backend runs GPTQ).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"
#include "test_data.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Loaded {
  tessera::PluginRegistry registry;
  std::unique_ptr<tessera::Pipeline> pipeline;
  std::unique_ptr<tessera::Session> session;
};

class GptqPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    reference_path = tessera::test::data_dir() / "refs-public/gptq_4bit_g32_greedy.json";
    model = tessera::test::data_dir() / "models/stories260K-wide256-gptq-4bit-g32";
    if (!fs::exists(reference_path) || !fs::exists(model)) GTEST_SKIP() << "shared data missing (set TESSERA_TEST_DATA)";
    for (const char* plugin : {"libtessera_gptq.so", "libtessera_cpu.so"})
      if (!fs::exists(tessera::test::build_plugin_dir() / plugin)) GTEST_SKIP() << plugin << " is not built";
    std::ifstream in(reference_path);
    reference = json::parse(in);
    dir = fs::temp_directory_path() / ("tessera-gptq-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path file = dir / "pipeline.yaml";
    std::ofstream(file) << "model: { path: \"" << model.string() << "\" }\n"
                        << "compute: [ { backend: cpu, threads: 2 } ]\n"
                        << "context: { size: 256, batch: 64, kv_type: f16 }\n";
    loaded = std::make_unique<Loaded>();
    auto result = tessera::load_pipeline(file, loaded->registry, {tessera::test::build_plugin_dir()});
    ASSERT_TRUE(result.pipeline) << result.diagnostics.to_string();
    loaded->pipeline = std::move(result.pipeline);
    EXPECT_EQ(loaded->pipeline->model.format, "gptq");
    EXPECT_TRUE(loaded->pipeline->model.tokenizer.empty());
    loaded->session = std::make_unique<tessera::Session>(*loaded->pipeline, loaded->registry);
  }
  void TearDown() override {
    loaded.reset();
    if (!dir.empty()) fs::remove_all(dir);
  }

  fs::path reference_path, model, dir;
  json reference;
  std::unique_ptr<Loaded> loaded;
};

TEST_F(GptqPipeline, TokenizerComesFromTheDirectory) {
  EXPECT_EQ(loaded->session->tokenizer().vocab_size(), 512);
  const auto ids = loaded->session->tokenizer().encode("Once upon a time", true);
  EXPECT_EQ(ids, reference["prompt_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(loaded->session->tokenizer().decode(std::vector<int32_t>(ids.begin() + 1, ids.end())), "Once upon a time");
  // The model behind it answers: one step of the reference's greedy run.
  const std::vector<float> logits = loaded->session->runtime().evaluate(ids);
  const auto argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
  EXPECT_EQ(argmax, reference["ids"][0].get<int64_t>());
}

}  // namespace
