// The KV cache types a pipeline can choose (context.kv_type f32, f16, q8_0)
// on a whole model: a quantized cache must give the logits of a full-precision
// one within the error Q8_0 rounding explains, and a model whose heads do not
// hold whole Q8_0 blocks is refused before anything is allocated.
#include <gtest/gtest.h>

#include <cstdio>

#include "kv_cache_runs.hpp"
#include "test_data.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/model_shapes.hpp"
#include "tessera/core/model_writer.hpp"
#include "tessera/types.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kCpu = "[ { backend: cpu, threads: 2 } ]";

std::unique_ptr<tessera::test::KvLoaded> load(const fs::path& model, const fs::path& dir, const std::string& kv_type) {
  return tessera::test::load_kv_session(model, dir, kCpu, kv_type);
}

using tessera::test::prefill_then_decode;
using tessera::test::relative_error;

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

  const auto f32 = prefill_then_decode(*load(model, dir, "f32"), tokens);
  const auto f16 = prefill_then_decode(*load(model, dir, "f16"), tokens);
  const auto q8 = prefill_then_decode(*load(model, dir, "q8_0"), tokens);
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
