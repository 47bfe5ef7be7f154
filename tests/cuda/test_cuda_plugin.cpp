// The cuda plugin as a plugin: it loads and answers on any machine (0
// devices and a clear reason without a GPU), describes its devices, and its
// buffers round-trip bytes and refuse bad ranges and foreign handles.

#include <cstdlib>
#include <filesystem>

#include "cuda_test_support.hpp"
#include "tessera/core/compute_backend.hpp"
#include "tessera/core/error.hpp"

namespace fs = std::filesystem;

namespace tessera::cuda_test {
namespace {

TEST(cuda_plugin, LoadsAndReportsDevicesOrWhyNot) {
  Plugin& cuda = plugin("cuda");
  ASSERT_TRUE(cuda.is(TESSERA_KIND_COMPUTE));
  const int32_t count = cuda.compute()->device_count(cuda.state());
  ASSERT_GE(count, 0);
  tessera_device_info info{};
  info.struct_size = sizeof info;
  tessera_error err;
  tessera_error_init(&err);
  const tessera_status s = cuda.compute()->device_info(cuda.state(), count, &info, &err);
  EXPECT_EQ(s, TESSERA_ERR_NOT_FOUND) << "device " << count << " must not exist";
  if (count == 0) {
    // No GPU here: the message carries the CUDA runtime's reason.
    EXPECT_NE(std::string(err.message).find("no CUDA device: "), std::string::npos) << err.message;
    EXPECT_GT(std::string(err.message).size(), std::string("cuda: no CUDA device: ").size()) << err.message;
    std::printf("cuda plugin without a device: %s\n", err.message);
  }
}

TEST(cuda_plugin, CreatingABackendWithoutADeviceSaysWhy) {
  Plugin& cuda = plugin("cuda");
  const int32_t count = cuda.compute()->device_count(cuda.state());
  try {
    ComputeBackend backend(cuda, count, nullptr);  // one past the last device
    FAIL() << "device " << count << " was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("device " + std::to_string(count) + " does not exist"), std::string::npos) << m;
    if (count == 0) {
      EXPECT_NE(m.find("no CUDA device"), std::string::npos) << m;
    }
  }
}

TEST(cuda_plugin, SupportsExactlyTheOpsItImplements) {
  const tessera_compute_interface& api = *plugin("cuda").compute();
  // supports_op needs no device: it is a property of the plugin.
  EXPECT_TRUE(api.supports_op(nullptr, TESSERA_OP_ATTENTION, TESSERA_DTYPE_F16));
  EXPECT_TRUE(api.supports_op(nullptr, TESSERA_OP_ATTENTION, TESSERA_DTYPE_Q8_0));
  EXPECT_TRUE(api.supports_op(nullptr, TESSERA_OP_ATTENTION, TESSERA_DTYPE_F32));
  EXPECT_FALSE(api.supports_op(nullptr, TESSERA_OP_ATTENTION, TESSERA_DTYPE_Q4_0));
  EXPECT_TRUE(api.supports_op(nullptr, TESSERA_OP_COPY, TESSERA_DTYPE_F32));
  EXPECT_TRUE(api.supports_op(nullptr, TESSERA_OP_GET_ROWS, TESSERA_DTYPE_Q6_K));
  EXPECT_TRUE(api.supports_op(nullptr, TESSERA_OP_GET_ROWS, TESSERA_DTYPE_IQ4_XS));
  EXPECT_FALSE(api.supports_op(nullptr, TESSERA_OP_GET_ROWS, TESSERA_DTYPE_IQ2_XXS));
  EXPECT_FALSE(api.supports_op(nullptr, TESSERA_OP_RMS_NORM, TESSERA_DTYPE_F16));
  EXPECT_FALSE(api.supports_op(nullptr, TESSERA_OP_COUNT_, TESSERA_DTYPE_F32));
}

TEST(cuda_plugin, DescribesTheGpu) {
  TESSERA_REQUIRE_CUDA();
  Plugin& cuda = plugin("cuda");
  tessera_device_info info{};
  info.struct_size = sizeof info;
  tessera_error err;
  tessera_error_init(&err);
  ASSERT_EQ(cuda.compute()->device_info(cuda.state(), 0, &info, &err), TESSERA_OK) << err.message;
  EXPECT_EQ(info.type, TESSERA_DEVICE_GPU);
  EXPECT_GT(std::string(info.name).size(), 0u);
  EXPECT_GT(info.memory_total, 0u);
  EXPECT_GT(info.memory_free, 0u);
  EXPECT_LE(info.memory_free, info.memory_total);
  EXPECT_GE(info.compute_major, 5);
  EXPECT_GT(info.parallelism, 0);
  std::printf("GPU 0: %s, sm_%d%d, %d SMs, %.1f GiB, %.0f GB/s nominal\n", info.name, info.compute_major,
              info.compute_minor, info.parallelism, static_cast<double>(info.memory_total) / (1ull << 30),
              info.memory_bandwidth_gbs);
}

TEST(cuda_plugin, BuffersRoundTripAndRefuseBadRanges) {
  TESSERA_REQUIRE_CUDA();
  Backend b("cuda", kCuda);
  tessera_buffer* buffer = b.alloc(1000);
  std::vector<uint8_t> data(600);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  tessera_error err;
  tessera_error_init(&err);
  ASSERT_EQ(b.api().buffer_write(buffer, 400, data.data(), data.size(), &err), TESSERA_OK) << err.message;
  std::vector<uint8_t> back(600);
  ASSERT_EQ(b.api().buffer_read(buffer, 400, back.data(), back.size(), &err), TESSERA_OK) << err.message;
  EXPECT_EQ(back, data);
  EXPECT_EQ(b.api().buffer_write(buffer, 401, data.data(), data.size(), &err), TESSERA_ERR_OUT_OF_RANGE);
  EXPECT_NE(std::string(err.message).find("outside the buffer of 1000 bytes"), std::string::npos) << err.message;
  EXPECT_EQ(b.api().buffer_read(buffer, ~0ull, back.data(), 2, &err), TESSERA_ERR_OUT_OF_RANGE);
  EXPECT_NE(b.api().buffer_base(buffer), nullptr);
  EXPECT_NE(b.api().native_context(b.get()), nullptr) << "the backend's cudaStream_t";
  // A cpu buffer handed to the cuda plugin is recognised, not dereferenced.
  Backend cpu("cpu", kCpu);
  tessera_buffer* foreign = cpu.alloc(16);
  EXPECT_EQ(b.api().buffer_write(foreign, 0, data.data(), 4, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err.message).find("not a buffer of the cuda plugin"), std::string::npos) << err.message;
}

// Two backends on one GPU run on separate streams: a node of one that reads
// the other's buffer is refused, not run unordered.
TEST(cuda_plugin, AnotherBackendsBufferIsRefused) {
  TESSERA_REQUIRE_CUDA();
  Backend a("cuda", kCuda), b("cuda", kCuda);
  const std::vector<float> x(64, 1.5f);
  tessera_tensor src = b.tensor(TESSERA_DTYPE_F32, {64}, x.data(), "x");
  tessera_tensor dst = a.tensor(TESSERA_DTYPE_F32, {64}, nullptr, "y");
  tessera_node node = make_node(TESSERA_OP_COPY, &dst, {&src});
  const auto [status, message] = a.execute({&node});
  EXPECT_EQ(status, TESSERA_ERR_INVALID_ARGUMENT) << message;
  EXPECT_NE(message.find("another cuda backend"), std::string::npos) << message;
}

// A buffer that outlives its backend: reads and writes are refused with the
// reason, freeing it only releases the memory.
TEST(cuda_plugin, ABufferOutlivingItsBackendIsRefusedNotDereferenced) {
  TESSERA_REQUIRE_CUDA();
  Plugin& cuda = plugin("cuda");
  const tessera_compute_interface& api = *cuda.compute();
  tessera_error err;
  tessera_error_init(&err);
  tessera_backend* backend = nullptr;
  ASSERT_EQ(api.backend_create(cuda.state(), 0, nullptr, &backend, &err), TESSERA_OK) << err.message;
  tessera_buffer* buffer = nullptr;
  ASSERT_EQ(api.buffer_alloc(backend, 256, &buffer, &err), TESSERA_OK) << err.message;
  api.backend_free(backend);
  const uint32_t word = 7;
  EXPECT_EQ(api.buffer_write(buffer, 0, &word, sizeof word, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err.message).find("backend was freed"), std::string::npos) << err.message;
  api.buffer_free(buffer);
}

TEST(cuda_plugin, AnImpossibleAllocationIsAClearError) {
  TESSERA_REQUIRE_CUDA();
  Backend b("cuda", kCuda);
  tessera_buffer* buffer = nullptr;
  tessera_error err;
  tessera_error_init(&err);
  EXPECT_EQ(b.api().buffer_alloc(b.get(), 1ull << 52, &buffer, &err), TESSERA_ERR_OUT_OF_MEMORY);
  EXPECT_NE(std::string(err.message).find("cannot allocate"), std::string::npos) << err.message;
}

TEST(cuda_plugin, ExamplePipelinesValidateWithoutAGpu) {
  for (const char* name : {"cuda.yaml", "cuda-offload-half.yaml", "cuda-multi.yaml"}) {
    const std::string command = "TESSERA_TEST_DATA='" + tessera::test::data_dir().string() + "' '" + TESSERA_CLI_PATH +
                                "' validate '" + (tessera::test::source_dir() / "config" / name).string() + "'";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
}

}  // namespace
}  // namespace tessera::cuda_test
