// The memory check before a model is loaded, with the real cuda plugin's
// device report (tests/e2e/test_memory_check.cpp covers the check itself on
// fixture devices): a KV cache twice the GPU's free memory is refused before
// anything is put on the GPU, naming the device, what the model needs and
// what is free, and suggesting how many layers fit.
//
// Size: stories260K-wide256 F32 has 5 layers and K / V rows of 128 values
// (tests/e2e/test_memory_check.cpp), so an f32 KV cache takes
// 2 x 128 x 4 = 1 KiB per token and layer.
#include "cuda_test_support.hpp"
#include "tessera/core/compute_backend.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/model_file.hpp"

namespace fs = std::filesystem;

namespace tessera::cuda_test {
namespace {

constexpr int64_t kKvBytesPerTokenAndLayer = 2 * 128 * 4;
constexpr int64_t kLayers = 5;

uint64_t free_bytes(Plugin& cuda) {
  tessera_device_info info{};
  info.struct_size = sizeof info;
  tessera_error err;
  tessera_error_init(&err);
  if (cuda.compute()->device_info(cuda.state(), 0, &info, &err) != TESSERA_OK)
    throw std::runtime_error(std::string("device_info: ") + err.message);
  return info.memory_free;
}

TEST(cuda_memory_check, AKvCacheLargerThanTheGpuIsRefusedBeforeLoading) {
  TESSERA_REQUIRE_CUDA();
  const fs::path model_path = test::data_dir() / "models/stories260K-wide256/stories260K-wide256-F32.gguf";
  if (!fs::exists(model_path)) GTEST_SKIP() << model_path << " is missing (set TESSERA_TEST_DATA)";
  if (!fs::exists(test::build_plugin_dir() / "libtessera_gguf.so")) GTEST_SKIP() << "the gguf plugin is not built";
  Plugin& cuda = plugin("cuda");
  const uint64_t before = free_bytes(cuda);
  // Twice the free memory in KV cache alone.
  const int64_t context =
      static_cast<int64_t>(2 * before / static_cast<uint64_t>(kKvBytesPerTokenAndLayer * kLayers)) / 256 * 256;

  std::string message;
  int32_t code = 0;
  {
    ModelFile model(model_path, test::build_plugins());
    ComputeBackend backend(cuda, 0, nullptr);
    RuntimeOptions options;
    options.context_size = context;
    options.batch = 64;
    options.kv_type = "f32";
    try {
      LlamaRuntime runtime(model, {BackendPlacement{&backend, std::nullopt}}, options);
    } catch (const Error& e) {
      message = e.what();
      code = e.code();
    }
  }
  std::printf("%s\n", message.c_str());
  EXPECT_EQ(code, TESSERA_ERR_OUT_OF_MEMORY) << message;
  EXPECT_NE(message.find("'cuda' device 0 ("), std::string::npos) << message;
  EXPECT_NE(message.find("GiB free"), std::string::npos) << message;
  EXPECT_NE(message.find("layer(s) fit"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(context) + "-token f32 KV cache"), std::string::npos) << message;
  // Nothing of the model stayed (or was put) on the GPU: free memory is as it
  // was, up to what the runtime itself might hold elsewhere (64 MiB).
  EXPECT_GE(free_bytes(cuda) + (uint64_t{64} << 20), before);
}

}  // namespace
}  // namespace tessera::cuda_test
