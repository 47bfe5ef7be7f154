// The KV cache types a pipeline can choose (context.kv_type f32, f16, q8_0)
// on a whole model: a quantized cache must give the logits of a full-precision
// one within the error Q8_0 rounding explains, and a model whose heads do not
// hold whole Q8_0 blocks is refused before anything is allocated.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "test_data.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/model_shapes.hpp"
#include "tessera/core/model_writer.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"
#include "tessera/types.h"

namespace fs = std::filesystem;

namespace {

struct Loaded {
  tessera::PluginRegistry registry;
  std::unique_ptr<tessera::Pipeline> pipeline;
  std::unique_ptr<tessera::Session> session;
};

std::unique_ptr<Loaded> load(const fs::path& model, const fs::path& dir, const std::string& kv_type) {
  auto loaded = std::make_unique<Loaded>();
  const fs::path file = dir / ("pipeline-" + kv_type + ".yaml");
  std::ofstream(file) << "model: { path: \"" << model.string() << "\" }\n"
                      << "compute: [ { backend: cpu, threads: 2 } ]\n"
                      << "context: { size: 256, batch: 64, kv_type: " << kv_type << " }\n";
  auto result = tessera::load_pipeline(file, loaded->registry, {tessera::test::build_plugin_dir()});
  if (!result.pipeline) throw std::runtime_error(result.diagnostics.to_string());
  loaded->pipeline = std::move(result.pipeline);
  loaded->session = std::make_unique<tessera::Session>(*loaded->pipeline, loaded->registry);
  return loaded;
}

// Logits of a prompt evaluated as one batch and then token by token, so both
// the batched and the single-token attention paths read the cache.
std::vector<std::vector<float>> run(Loaded& loaded, const std::vector<int32_t>& tokens) {
  auto& runtime = loaded.session->runtime();
  std::vector<std::vector<float>> out;
  out.push_back(runtime.evaluate(std::span<const int32_t>(tokens.data(), 24)));
  for (std::size_t i = 24; i < tokens.size(); ++i) out.push_back(runtime.evaluate(std::span<const int32_t>(&tokens[i], 1)));
  return out;
}

double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    diff += (got[i] - want[i]) * static_cast<double>(got[i] - want[i]);
    norm += want[i] * static_cast<double>(want[i]);
  }
  return std::sqrt(diff / norm);
}

class KvCacheTypes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
      GTEST_SKIP() << "the gguf format plugin is not built";
    dir = fs::temp_directory_path() / ("tessera-kv-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

}  // namespace

// stories42m's shape has head_dim 64: two Q8_0 blocks per head. Random
// weights (fixed seed), F32 so only the cache type differs between runs.
TEST_F(KvCacheTypes, Q8_0CacheStaysCloseToF32AndF16) {
  const fs::path model = dir / "stories42m-f32.gguf";
  tessera::synthesize_model(tessera::find_model_shape("stories42m"), TESSERA_DTYPE_F32, model, 7);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back(1 + (i * 7919) % 31999);

  const auto f32 = run(*load(model, dir, "f32"), tokens);
  const auto f16 = run(*load(model, dir, "f16"), tokens);
  const auto q8 = run(*load(model, dir, "q8_0"), tokens);
  ASSERT_EQ(q8.size(), f32.size());
  // Q8_0 keeps ~8 bits per value against f16's 11: its logits may move
  // further from F32 than f16's, but stay within a few percent.
  for (std::size_t step = 0; step < f32.size(); ++step) {
    const double e16 = relative_error(f16[step], f32[step]), e8 = relative_error(q8[step], f32[step]);
    EXPECT_LT(e16, 0.01) << "step " << step;
    EXPECT_LT(e8, 0.03) << "step " << step;
    EXPECT_GT(e8, 0.0) << "step " << step << ": the q8_0 run read the same cache as f32";
    if (step == 0 || step + 1 == f32.size()) std::printf("step %zu: relative logit error f16 %.2e, q8_0 %.2e\n", step, e16, e8);
  }
}

TEST_F(KvCacheTypes, Q8_0IsRefusedWhenAHeadIsNotWholeBlocks) {
  const fs::path model = tessera::test::data_dir() / "models/stories260K.gguf";
  if (!fs::exists(model)) GTEST_SKIP() << model << " is missing (set TESSERA_TEST_DATA)";
  try {
    load(model, dir, "q8_0");
    FAIL() << "a q8_0 cache with head_dim 8 was accepted";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("head_dim is 8"), std::string::npos) << message;
    EXPECT_NE(message.find("kv_type f16 or f32"), std::string::npos) << message;
  }
}
