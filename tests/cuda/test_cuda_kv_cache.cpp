// The KV cache types on the GPU over a whole model: a pipeline with
// context.kv_type f16 or q8_0 fully on the GPU, or split with the cpu, gives
// the logits the cpu gives with the same cache type (stories42m's shape:
// head_dim 64, two Q8_0 blocks per head; random F32 weights, fixed seed).
#include <gtest/gtest.h>

#include "cuda_test_support.hpp"
#include "kv_cache_runs.hpp"
#include "tessera/core/model_shapes.hpp"
#include "tessera/core/model_writer.hpp"

namespace fs = std::filesystem;

namespace tessera::cuda_test {
namespace {

using test::load_kv_session;
using test::prefill_then_decode;
using test::relative_error;

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
  const auto logits = [&](const char* compute) {
    return prefill_then_decode(*load_kv_session(model, dir, compute, kv_type), tokens);
  };
  const auto cpu = logits("[ { backend: cpu, threads: 2 } ]");
  const auto gpu = logits("[ { backend: cuda, device: 0 } ]");
  const auto split = logits("[ { backend: cuda, device: 0, layers: 0-3 }, { backend: cpu, threads: 2 } ]");
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
