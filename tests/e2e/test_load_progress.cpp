// The load progress callback behind the progress bars of run, bench and
// perplexity: it moves forward only, ends at exactly the total, and the
// total is every byte uploaded (each tensor once per backend it lands on).
#include <gtest/gtest.h>

#include "test_data.hpp"
#include "tessera/core/compute_backend.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace fs = std::filesystem;

namespace tessera {
namespace {

struct Calls {
  std::vector<std::pair<uint64_t, uint64_t>> seen;
  LlamaRuntime::LoadProgress callback() {
    return [this](uint64_t done, uint64_t total) { seen.emplace_back(done, total); };
  }
};

void expect_monotonic_to_total(const Calls& calls, uint64_t expected_total) {
  ASSERT_FALSE(calls.seen.empty());
  uint64_t previous = 0;
  for (const auto& [done, total] : calls.seen) {
    EXPECT_EQ(total, expected_total);
    EXPECT_GE(done, previous);
    EXPECT_LE(done, total);
    previous = done;
  }
  EXPECT_EQ(calls.seen.back().first, expected_total);
}

TEST(LoadProgress, EndsAtTheSumOfTheTensorBytes) {
  const fs::path model_path = test::data_dir() / "models/stories260K-wide256/stories260K-wide256-F32.gguf";
  if (!fs::exists(test::build_plugin_dir() / "libtessera_gguf.so")) GTEST_SKIP() << "the gguf plugin is not built";
  if (!fs::exists(model_path)) GTEST_SKIP() << model_path << " is missing (set TESSERA_TEST_DATA)";
  PluginRegistry registry;
  registry.discover({test::build_plugin_dir()});
  ModelFile model(model_path, registry);
  uint64_t bytes = 0;
  for (const auto& t : model.tensors()) bytes += t.n_bytes;
  RuntimeOptions options;
  options.context_size = 64;
  options.batch = 16;
  {
    ComputeBackend cpu(*registry.find_mutable("cpu"), 0, nullptr);
    Calls calls;
    LlamaRuntime runtime(model, {{&cpu, std::nullopt}}, options, calls.callback());
    expect_monotonic_to_total(calls, bytes);
  }
  {  // split over two backends: an untied model uploads each tensor once
    ComputeBackend a(*registry.find_mutable("cpu"), 0, nullptr), b(*registry.find_mutable("cpu"), 0, nullptr);
    Calls calls;
    LlamaRuntime runtime(model, {{&a, LayerRange{0, 1}}, {&b, std::nullopt}}, options, calls.callback());
    expect_monotonic_to_total(calls, bytes);
  }
}

}  // namespace
}  // namespace tessera
