// The memory check that runs before a model is loaded, shown on fake GPUs
// with little memory (the small_device fixture plugin) so it is tested
// without a GPU: a placement that does not fit is refused before anything
// is allocated, with every device's need and free memory and a layer split
// that fits; entries on one device share it; a GPU keeps headroom for the
// plugin's own scratch.
//
// Sizes (stories260K-wide256 F32, KV f32, context 131072, batch 64): a
// layer's KV cache is 2 x 128 x 4 x 131072 bytes = 128 MiB and its weights
// 1.5 MiB; small device 0 has 512 MiB free, device 1 768 MiB; a GPU may use
// 95% of its free memory less 256 MiB per backend on it (one backend: 230
// and 474 MiB; two on device 1: 218 MiB).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <fstream>

#include "test_data.hpp"
#include "tessera/core/compute_backend.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;

namespace tessera {
namespace {

constexpr int64_t kContext = 131072;

fs::path model_path() { return test::data_dir() / "models/stories260K-wide256/stories260K-wide256-F32.gguf"; }
fs::path small_device_library() { return test::fixture_plugin_dir() / "small_device/libtessera_small_device.so"; }

class MemoryCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::build_plugin_dir() / "libtessera_gguf.so")) GTEST_SKIP() << "the gguf plugin is not built";
    if (!fs::exists(model_path())) GTEST_SKIP() << model_path() << " is missing (set TESSERA_TEST_DATA)";
    registry.discover({test::build_plugin_dir(), small_device_library().parent_path()});
    ASSERT_NE(registry.find_mutable("small_device"), nullptr) << "the small_device fixture plugin did not load";
    // The plugin is loaded now; RTLD_NOLOAD finds that copy, not a new one.
    void* handle = ::dlopen(small_device_library().c_str(), RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(handle, nullptr) << ::dlerror();
    allocations = reinterpret_cast<int (*)()>(::dlsym(handle, "small_device_allocations"));
    ::dlclose(handle);  // drops only the reference taken here
    ASSERT_NE(allocations, nullptr) << "small_device_allocations is not exported";
  }

  // The error that building a runtime over `placements` throws ("" if none).
  std::string build(std::vector<std::pair<std::pair<std::string, int32_t>, std::optional<LayerRange>>> placements,
                    int32_t* code = nullptr) {
    ModelFile model(model_path(), registry);
    std::vector<std::unique_ptr<ComputeBackend>> backends;
    std::vector<BackendPlacement> placed;
    for (const auto& [backend, layers] : placements) {
      backends.push_back(std::make_unique<ComputeBackend>(*registry.find_mutable(backend.first), backend.second, nullptr));
      placed.push_back({backends.back().get(), layers});
    }
    RuntimeOptions options;
    options.context_size = kContext;
    options.batch = 64;
    options.kv_type = "f32";
    try {
      LlamaRuntime runtime(model, std::move(placed), options);
    } catch (const Error& e) {
      if (code != nullptr) *code = e.code();
      return e.what();
    }
    return "";
  }

  PluginRegistry registry;
  int (*allocations)() = nullptr;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Three layers (390 MiB) on device 0 (512 MiB free, 230 MiB usable): refused
// before a single allocation, naming need, free memory and the one layer
// that fits. Without the GPU headroom 390 < 512 would have passed the check
// and failed later.
TEST_F(MemoryCheck, RefusesBeforeAllocatingAndSuggestsALayerRange) {
  const int before = allocations();
  int32_t code = 0;
  const std::string m = build({{{"small_device", 0}, LayerRange{0, 2}}, {{"cpu", 0}, std::nullopt}}, &code);
  EXPECT_EQ(code, TESSERA_ERR_OUT_OF_MEMORY) << m;
  EXPECT_EQ(allocations(), before) << "the small device allocated before the check refused the model";
  EXPECT_TRUE(contains(m, "'small_device' device 0 (small device 0): needs 0.38 GiB, 0.50 GiB free")) << m;
  EXPECT_TRUE(contains(m, "too little")) << m;
  EXPECT_TRUE(contains(m, "about 1 layer(s) fit: give it layers: 0-0")) << m;
  EXPECT_TRUE(contains(m, "131072-token f32 KV cache")) << m;
  // The cpu part fits and is not flagged.
  EXPECT_FALSE(contains(m, "'cpu' device 0: ")) << m;
}

// One layer (131 MiB) fits on device 0, so the check passes; the load then
// stops at the fixture's missing attention kernel, not at the memory check.
TEST_F(MemoryCheck, PassesWhenTheSplitFits) {
  int32_t code = 0;
  const std::string m = build({{{"small_device", 0}, LayerRange{0, 0}}, {{"cpu", 0}, std::nullopt}}, &code);
  EXPECT_EQ(code, TESSERA_ERR_UNSUPPORTED) << m;
  EXPECT_TRUE(contains(m, "cannot keep a f32 KV cache")) << m;
}

// Two entries on device 1 need 261 and 390 MiB: each would fit alone in its
// 474 usable MiB, together they do not (and two backends keep two reserves:
// 218 MiB usable, room for one layer).
TEST_F(MemoryCheck, EntriesOnOneDeviceShareItsMemory) {
  const int before = allocations();
  int32_t code = 0;
  const std::string m = build({{{"small_device", 1}, LayerRange{0, 1}}, {{"small_device", 1}, LayerRange{2, 4}}}, &code);
  EXPECT_EQ(code, TESSERA_ERR_OUT_OF_MEMORY) << m;
  EXPECT_EQ(allocations(), before);
  EXPECT_TRUE(contains(m, "'small_device' device 1 (small device 1, 2 entries): needs 0.64 GiB, 0.75 GiB free")) << m;
  EXPECT_TRUE(contains(m, "its 2 entries hold 5 layers together, about 1 fit")) << m;
}

// A device that cannot even hold the embedding, head and activations.
TEST_F(MemoryCheck, NamesADeviceThatCannotHoldItsNonLayerPart) {
  int32_t code = 0;
  ModelFile model(model_path(), registry);
  std::vector<std::unique_ptr<ComputeBackend>> backends;
  backends.push_back(std::make_unique<ComputeBackend>(*registry.find_mutable("small_device"), 0, nullptr));
  RuntimeOptions options;
  options.context_size = 256;
  options.batch = 1 << 20;  // about 15 GiB of activations
  options.kv_type = "f32";
  try {
    LlamaRuntime runtime(model, {{backends.back().get(), std::nullopt}}, options);
    FAIL() << "a 15 GiB batch passed the memory check of a 512 MiB device";
  } catch (const Error& e) {
    code = e.code();
    EXPECT_TRUE(contains(e.what(), "cannot hold even its non-layer part")) << e.what();
    EXPECT_TRUE(contains(e.what(), "shrink context.batch")) << e.what();
  }
  EXPECT_EQ(code, TESSERA_ERR_OUT_OF_MEMORY);
}

// Through a pipeline file and the cpu backend alone: a 16M-token F32 cache
// needs 16 GiB per layer, more than this machine has.
TEST_F(MemoryCheck, CpuPipelineTooLargeForTheMachine) {
  const fs::path file = fs::temp_directory_path() / ("tessera-memcheck-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(file) << "model: { path: \"" << model_path().string() << "\" }\n"
                      << "compute: [ { backend: cpu, threads: 1 } ]\n"
                      << "context: { size: 16777216, batch: 64, kv_type: f32 }\n";
  PluginRegistry reg;
  auto result = load_pipeline(file, reg, {test::build_plugin_dir()});
  fs::remove(file);
  ASSERT_TRUE(result.pipeline) << result.diagnostics.to_string();
  try {
    Session session(*result.pipeline, reg);
    GTEST_SKIP() << "this machine has more than 80 GiB free";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.code(), TESSERA_ERR_OUT_OF_MEMORY) << m;
    EXPECT_TRUE(contains(m, "'cpu' device 0")) << m;
    EXPECT_TRUE(contains(m, "needs 80.")) << m;  // 5 layers x 16 GiB + weights + activations
    EXPECT_TRUE(contains(m, "GiB free")) << m;
    EXPECT_TRUE(contains(m, "layer(s) fit: give it layers: 0-") || contains(m, "no layer fits")) << m;
  }
}

}  // namespace
}  // namespace tessera
