// model.mmap: the cpu backend uses a GGUF model's weights in place in the
// memory-mapped file (no second copy in RAM), and gives exactly the logits
// of the copying load (model.mmap: false).
#include <gtest/gtest.h>

#include <cctype>
#include <vector>

#include "test_data.hpp"
#include "tessera/core/compute_backend.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace fs = std::filesystem;

namespace tessera {
namespace {

struct Loaded {
  std::vector<float> logits;
  uint64_t weight_bytes = 0, mapped_bytes = 0;
};

Loaded load_and_evaluate(PluginRegistry& registry, const ModelFile& model, bool mmap) {
  RuntimeOptions options;
  options.context_size = 64;
  options.batch = 16;
  options.mmap = mmap;
  ComputeBackend cpu(*registry.find_mutable("cpu"), 0, nullptr);
  LlamaRuntime runtime(model, {{&cpu, std::nullopt}}, options);
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 429, 300, 7};
  Loaded out;
  out.logits = runtime.evaluate(tokens, /*all_logits=*/true);
  out.weight_bytes = runtime.weight_bytes(0);
  out.mapped_bytes = runtime.mapped_weight_bytes(0);
  return out;
}

class MappedWeights : public ::testing::TestWithParam<std::string> {};

TEST_P(MappedWeights, CpuUsesTheFileInPlaceWithTheSameLogits) {
  const fs::path path = test::data_dir() / "models" / GetParam();
  if (!fs::exists(test::build_plugin_dir() / "libtessera_gguf.so")) GTEST_SKIP() << "the gguf plugin is not built";
  if (!fs::exists(path)) GTEST_SKIP() << path << " is missing (set TESSERA_TEST_DATA)";
  PluginRegistry registry;
  registry.discover({test::build_plugin_dir()});
  ModelFile model(path, registry);
  uint64_t file_bytes = 0;
  for (const auto& t : model.tensors()) file_bytes += t.n_bytes;

  const Loaded mapped = load_and_evaluate(registry, model, true);
  const Loaded copied = load_and_evaluate(registry, model, false);
  // GGUF aligns every tensor to 32 bytes, which is all the cpu kernels ask.
  EXPECT_EQ(mapped.weight_bytes, file_bytes);
  EXPECT_EQ(mapped.mapped_bytes, file_bytes);
  EXPECT_EQ(copied.weight_bytes, file_bytes);
  EXPECT_EQ(copied.mapped_bytes, 0u);
  ASSERT_EQ(mapped.logits.size(), copied.logits.size());
  EXPECT_EQ(mapped.logits, copied.logits) << "same kernels on the same bytes must give the same logits";
}

// Memory the plugin refuses (below its alignment) is not an error for the
// host: ComputeBackend reports why, and the runtime copies instead.
TEST(MappedWeightsFallback, RefusedMemoryIsReportedForACopy) {
  if (!fs::exists(test::build_plugin_dir() / "libtessera_cpu.so")) GTEST_SKIP() << "the cpu plugin is not built";
  PluginRegistry registry;
  registry.discover({test::build_plugin_dir()});
  ComputeBackend cpu(*registry.find_mutable("cpu"), 0, nullptr);
  alignas(64) static const uint8_t bytes[128] = {};
  std::string why_not;
  EXPECT_EQ(cpu.wrap_host(bytes + 16, 64, "blk.0.attn_q.weight", &why_not), nullptr);
  EXPECT_NE(why_not.find("not aligned to 32 bytes"), std::string::npos) << why_not;
  EXPECT_EQ(cpu.wrapped_bytes(), 0u);
  ASSERT_NE(cpu.wrap_host(bytes, 64, "blk.0.attn_q.weight", &why_not), nullptr);
  EXPECT_EQ(cpu.wrapped_bytes(), 64u);
  EXPECT_EQ(cpu.used_bytes(), cpu.allocated_bytes() + 64u);
}

INSTANTIATE_TEST_SUITE_P(Stories, MappedWeights,
                         ::testing::Values("stories260K-wide256/stories260K-wide256-F32.gguf",
                                           "stories260K-wide256/stories260K-wide256-Q4_0.gguf",
                                           "stories260K-wide256/stories260K-wide256-Q4_K_M.gguf",
                                           "stories260K-quants/stories260K-Q6_K.gguf"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name = fs::path(param_info.param).stem().string();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace tessera
