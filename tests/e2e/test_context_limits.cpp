// What happens at the edges of a pipeline on the real stories260K model:
// a full context is a clear error unless the pipeline asks to shift; a shift
// continues from exactly the tokens it kept; a layer range that starts
// beyond the model is refused naming the model's layer count.
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

constexpr int64_t kContext = 32;

class ContextLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
      GTEST_SKIP() << "the gguf format plugin is not built";
    if (!fs::exists(tessera::test::data_dir() / "models/stories260K.gguf"))
      GTEST_SKIP() << "shared models are missing (set TESSERA_TEST_DATA)";
    dir = fs::temp_directory_path() / ("tessera-context-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  // A session on stories260K with the given compute and context lines.
  std::unique_ptr<tessera::Session> open(const std::string& compute, const std::string& context) {
    const fs::path file = dir / "pipeline.yaml";
    std::ofstream(file) << "model: { path: \"" << (tessera::test::data_dir() / "models/stories260K.gguf").string()
                        << "\" }\ncompute: " << compute << "\ncontext: " << context << "\n";
    auto loaded = tessera::load_pipeline(file, registry, {tessera::test::build_plugin_dir()});
    if (!loaded.pipeline) throw std::runtime_error(loaded.diagnostics.to_string());
    pipelines.push_back(std::move(loaded.pipeline));  // sessions refer to their pipeline
    return std::make_unique<tessera::Session>(*pipelines.back(), registry);
  }

  tessera::PluginRegistry registry;
  std::vector<std::unique_ptr<tessera::Pipeline>> pipelines;
  fs::path dir;
};

// Greedy generation of three contexts' worth of tokens, EOS ignored.
tessera::GenerationSettings long_run(bool shift) {
  tessera::GenerationSettings settings;
  settings.max_tokens = 3 * kContext;
  settings.stop_at_eos = false;
  settings.context_shift = shift;
  return settings;
}

int32_t argmax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

}  // namespace

TEST_F(ContextLimits, AFullContextIsAClearErrorWithoutShift) {
  auto session = open("[ { backend: cpu, threads: 2 } ]", "{ size: 32, batch: 32 }");
  tessera::Generator generator(session->runtime(), session->tokenizer(), nullptr);
  try {
    generator.generate("Once upon a time", long_run(false));
    FAIL() << "generating past the context did not fail";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("the context is full after 32 tokens (context.size 32)"), std::string::npos) << message;
    EXPECT_NE(message.find("context.shift: true"), std::string::npos) << message;
  }
}

// With shift: generation goes on past the context; right after the first
// shift the next token is what a fresh cache holding the kept tokens (BOS
// and the newer half) predicts, evaluated independently in one batch.
TEST_F(ContextLimits, ShiftKeepsBosAndTheNewerHalfAndGoesOn) {
  auto session = open("[ { backend: cpu, threads: 2 } ]", "{ size: 32, batch: 32, shift: true }");
  tessera::Generator generator(session->runtime(), session->tokenizer(), nullptr);
  tessera::GenerationSettings settings = long_run(true);
  const tessera::GenerationResult result = generator.generate("Once upon a time", settings);
  ASSERT_EQ(static_cast<int64_t>(result.generated_ids.size()), settings.max_tokens);
  EXPECT_LE(session->runtime().n_past(), kContext);

  // Replay: the first shift happens when the history (prompt + generated)
  // holds kContext + 1 tokens; it keeps BOS and the newer (size - 1) / 2.
  std::vector<int32_t> history = result.prompt_ids;
  const auto prompt = static_cast<int64_t>(history.size());
  for (int64_t i = 0; i + prompt <= kContext; ++i) history.push_back(result.generated_ids[static_cast<size_t>(i)]);
  ASSERT_EQ(static_cast<int64_t>(history.size()), kContext + 1);
  const std::size_t discard = (history.size() - 1) / 2;
  std::vector<int32_t> kept{history.front()};
  kept.insert(kept.end(), history.begin() + 1 + static_cast<std::ptrdiff_t>(discard), history.end());

  auto fresh = open("[ { backend: cpu, threads: 2 } ]", "{ size: 32, batch: 32 }");
  const int32_t expected = argmax(fresh->runtime().evaluate(kept));
  const int64_t next = kContext + 1 - prompt;  // index of the first token generated after the shift
  EXPECT_EQ(result.generated_ids[static_cast<size_t>(next)], expected);
  // Without the shift the same step would have seen the whole history: the
  // model without a size limit is the baseline the first tokens must equal.
  auto wide = open("[ { backend: cpu, threads: 2 } ]", "{ size: 256, batch: 64 }");
  tessera::Generator baseline(wide->runtime(), wide->tokenizer(), nullptr);
  settings.max_tokens = next;
  const auto unshifted = baseline.generate("Once upon a time", settings).generated_ids;
  EXPECT_TRUE(std::equal(unshifted.begin(), unshifted.end(), result.generated_ids.begin()));
}

// A range that starts past the last layer is refused; one that ends past it
// means "up to the last layer" (llama.cpp's -ngl 99), so it generates the
// same tokens as the whole model on that backend.
TEST_F(ContextLimits, ALayerRangeBeyondTheModelIsRefused) {
  try {
    open("[ { backend: cpu, threads: 1, layers: 7-9 } ]", "{ size: 64 }");
    FAIL() << "layers 7-9 on a 5-layer model were accepted";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("is given layers 7-9, but the model has only 5 layers (0-4)"), std::string::npos) << message;
  }
  tessera::GenerationSettings settings;
  settings.max_tokens = 16;
  settings.stop_at_eos = false;
  auto clamped = open("[ { backend: cpu, threads: 1, layers: 0-99 } ]", "{ size: 64 }");
  auto whole = open("[ { backend: cpu, threads: 1 } ]", "{ size: 64 }");
  tessera::Generator a(clamped->runtime(), clamped->tokenizer(), nullptr), b(whole->runtime(), whole->tokenizer(), nullptr);
  EXPECT_EQ(a.generate("Once upon a time", settings).generated_ids,
            b.generate("Once upon a time", settings).generated_ids);
}
