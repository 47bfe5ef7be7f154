// The KV cache types on the GPU over a whole model: a pipeline with
// context.kv_type f16 or q8_0 fully on the GPU, or split with the cpu, gives
// the logits the cpu gives with the same cache type (stories42m's shape:
// head_dim 64, two Q8_0 blocks per head; random F32 weights, fixed seed).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "cuda_test_support.hpp"
#include "tessera/core/model_shapes.hpp"
#include "tessera/core/model_writer.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;

namespace tessera::cuda_test {
namespace {

struct Loaded {
  PluginRegistry registry;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Session> session;
};

std::unique_ptr<Loaded> load(const fs::path& model, const fs::path& dir, const std::string& compute,
                             const std::string& kv_type) {
  auto loaded = std::make_unique<Loaded>();
  const fs::path file = dir / "pipeline.yaml";
  std::ofstream(file) << "model: { path: \"" << model.string() << "\" }\ncompute: " << compute
                      << "\ncontext: { size: 256, batch: 64, kv_type: " << kv_type << " }\n";
  auto result = load_pipeline(file, loaded->registry, {test::build_plugin_dir()});
  if (!result.pipeline) throw std::runtime_error(result.diagnostics.to_string());
  loaded->pipeline = std::move(result.pipeline);
  loaded->session = std::make_unique<Session>(*loaded->pipeline, loaded->registry);
  return loaded;
}

// A 24-token batch (prefill attention), then single tokens (decode).
std::vector<std::vector<float>> run(Loaded& loaded, const std::vector<int32_t>& tokens) {
  LlamaRuntime& runtime = loaded.session->runtime();
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

class CudaKvCache : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_CUDA();
    if (!fs::exists(test::build_plugin_dir() / "libtessera_gguf.so")) GTEST_SKIP() << "the gguf plugin is not built";
    dir = fs::temp_directory_path() / ("tessera-cuda-kv-" + std::to_string(::getpid()) + "-" + GetParam());
    fs::create_directories(dir);
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  fs::path dir;
};

// GPU and cpu differ in summation order only, and a Q8_0 cache rounds the
// same values with the same rule (copy.cu uses the SDK's), so the logits
// agree far more closely than one cache type agrees with another (1e-2 to
// 3e-2 for q8_0 against f32, tests/e2e/test_kv_cache_types.cpp).
TEST_P(CudaKvCache, GpuLogitsMatchTheCpuWithTheSameCacheType) {
  const std::string kv_type = GetParam();
  const fs::path model = dir / "stories42m-f32.gguf";
  synthesize_model(find_model_shape("stories42m"), TESSERA_DTYPE_F32, model, 7);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back(1 + (i * 7919) % 31999);
  const auto cpu = run(*load(model, dir, "[ { backend: cpu, threads: 2 } ]", kv_type), tokens);
  const auto gpu = run(*load(model, dir, "[ { backend: cuda, device: 0 } ]", kv_type), tokens);
  const auto split =
      run(*load(model, dir, "[ { backend: cuda, device: 0, layers: 0-3 }, { backend: cpu, threads: 2 } ]", kv_type), tokens);
  const double tolerance = kv_type == "q8_0" ? 5e-3 : 1e-3;
  for (std::size_t step = 0; step < cpu.size(); ++step) {
    EXPECT_LT(relative_error(gpu[step], cpu[step]), tolerance) << kv_type << " on the GPU, step " << step;
    EXPECT_LT(relative_error(split[step], cpu[step]), tolerance) << kv_type << " split GPU + cpu, step " << step;
  }
  std::printf("%s cache: relative logit error GPU vs cpu %.2e (first step) %.2e (last)\n", kv_type.c_str(),
              relative_error(gpu.front(), cpu.front()), relative_error(gpu.back(), cpu.back()));
}

INSTANTIATE_TEST_SUITE_P(kv_types, CudaKvCache, ::testing::Values("f16", "q8_0"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace tessera::cuda_test
