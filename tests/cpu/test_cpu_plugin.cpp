// The cpu plugin as the host sees it: descriptor, parameters, the device and
// backend creation from a pipeline's compute entry.
#include <thread>

#include "cpu_test_support.hpp"

using namespace tessera::cpu_test;

TEST(cpu_plugin, LoadsAsComputePluginWithThreadsParameter) {
  tessera::Plugin& p = cpu_plugin();
  EXPECT_EQ(p.name(), "cpu");
  EXPECT_TRUE(p.is(TESSERA_KIND_COMPUTE));
  ASSERT_NE(p.compute(), nullptr);
  EXPECT_EQ(p.compute()->struct_size, sizeof(tessera_compute_interface));
  const tessera::ParamSpec* threads = p.find_param("threads");
  ASSERT_NE(threads, nullptr);
  EXPECT_EQ(threads->type, TESSERA_PARAM_INT);
  EXPECT_EQ(threads->min_value, 1.0);
  EXPECT_FALSE(threads->required());
}

TEST(cpu_plugin, EveryComputeEntryPointIsFilled) {
  const tessera_compute_interface& c = api();
  EXPECT_TRUE(c.device_count && c.device_info && c.backend_create && c.backend_free && c.supports_op &&
              c.buffer_alloc && c.buffer_free && c.buffer_base && c.buffer_write && c.buffer_read && c.graph_execute &&
              c.synchronize && c.native_context);
}

TEST(cpu_device, ReportsOnePlausibleHostDevice) {
  ASSERT_EQ(api().device_count(state()), 1);
  tessera_device_info info{};
  info.struct_size = sizeof info;
  tessera_error err;
  tessera_error_init(&err);
  ASSERT_EQ(api().device_info(state(), 0, &info, &err), TESSERA_OK) << err.message;
  EXPECT_EQ(info.struct_size, sizeof info);
  EXPECT_GT(std::strlen(info.name), 0u);
  EXPECT_EQ(info.type, TESSERA_DEVICE_CPU);
  EXPECT_GT(info.memory_total, 0u);
  EXPECT_GT(info.memory_free, 0u);
  EXPECT_LE(info.memory_free, info.memory_total);
  EXPECT_GE(info.parallelism, 1);
  EXPECT_LE(info.parallelism, static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_NE(info.capabilities & TESSERA_CAP_UNIFIED_MEMORY, 0u);
  EXPECT_EQ(info.compute_major, 0);
}

#if defined(__x86_64__)
// The plugin reads cpuid itself; compare with the compiler's own detection.
TEST(cpu_device, CapabilitiesMatchTheCompilersCpuDetection) {
  tessera_device_info info{};
  info.struct_size = sizeof info;
  ASSERT_EQ(api().device_info(state(), 0, &info, nullptr), TESSERA_OK);
  __builtin_cpu_init();
  auto has = [&](uint32_t bit) { return (info.capabilities & bit) != 0; };
  EXPECT_EQ(has(TESSERA_CAP_AVX2), __builtin_cpu_supports("avx2") != 0);
  EXPECT_EQ(has(TESSERA_CAP_FMA), __builtin_cpu_supports("fma") != 0);
  EXPECT_EQ(has(TESSERA_CAP_AVX512F), __builtin_cpu_supports("avx512f") != 0);
  EXPECT_EQ(has(TESSERA_CAP_AVX512_VNNI), __builtin_cpu_supports("avx512vnni") != 0);
  EXPECT_EQ(has(TESSERA_CAP_AVX512_BF16), __builtin_cpu_supports("avx512bf16") != 0);
  EXPECT_EQ(has(TESSERA_CAP_F16C), __builtin_cpu_supports("f16c") != 0);
}
#endif

TEST(cpu_device, UnknownDeviceIsNotFound) {
  tessera_device_info info{};
  info.struct_size = sizeof info;
  tessera_error err;
  tessera_error_init(&err);
  EXPECT_EQ(api().device_info(state(), 1, &info, &err), TESSERA_ERR_NOT_FOUND);
  EXPECT_NE(std::string(err.message).find("device 1"), std::string::npos) << err.message;
  EXPECT_EQ(api().device_info(state(), 0, nullptr, &err), TESSERA_ERR_INVALID_ARGUMENT);
}

TEST(cpu_device, FillsOnlyWhatAnOlderCallersStructHolds) {
  // A caller compiled when the struct ended after `type`.
  const size_t old_size = TESSERA_SIZE_THROUGH(tessera_device_info, type);
  tessera_device_info info;
  std::memset(&info, 0xAB, sizeof info);
  info.struct_size = old_size;
  ASSERT_EQ(api().device_info(state(), 0, &info, nullptr), TESSERA_OK);
  EXPECT_EQ(info.struct_size, old_size);
  EXPECT_GT(std::strlen(info.name), 0u);
  EXPECT_EQ(info.type, TESSERA_DEVICE_CPU);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&info);
  for (size_t i = old_size; i < sizeof info; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i << " was written";
}

TEST(cpu_backend, CreatesWithConfiguredThreads) {
  Backend b(3);
  ASSERT_EQ(b.create_status().code, TESSERA_OK) << b.create_status().message;
  auto* ctx = static_cast<const tessera_cpu_context*>(api().native_context(b.get()));
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(ctx->struct_size, sizeof(tessera_cpu_context));
  EXPECT_EQ(ctx->n_threads, 3);
  EXPECT_EQ(api().synchronize(b.get(), nullptr), TESSERA_OK);
}

TEST(cpu_backend, DefaultsToHardwareThreads) {
  Backend b("{backend: cpu}");
  ASSERT_EQ(b.create_status().code, TESSERA_OK) << b.create_status().message;
  tessera_device_info info{};
  info.struct_size = sizeof info;
  ASSERT_EQ(api().device_info(state(), 0, &info, nullptr), TESSERA_OK);
  auto* ctx = static_cast<const tessera_cpu_context*>(api().native_context(b.get()));
  EXPECT_EQ(ctx->n_threads, info.parallelism);
}

TEST(cpu_backend, RejectsBadThreadCounts) {
  for (const char* yaml :
       {"{backend: cpu, threads: 0}", "{backend: cpu, threads: -4}", "{backend: cpu, threads: 100000}"}) {
    Backend b(yaml);
    EXPECT_EQ(b.create_status().code, TESSERA_ERR_INVALID_ARGUMENT) << yaml;
    EXPECT_NE(b.create_status().message.find("threads"), std::string::npos) << b.create_status().message;
    EXPECT_NE(b.create_status().message.find("test.yaml"), std::string::npos) << b.create_status().message;
    EXPECT_EQ(b.get(), nullptr);
  }
  Backend text("{backend: cpu, threads: many}");
  EXPECT_EQ(text.create_status().code, TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(text.create_status().message.find("integer"), std::string::npos) << text.create_status().message;
}

TEST(cpu_backend, UnknownDeviceIsNotFound) {
  tessera::ConfigTree tree(YAML::Load("{backend: cpu, threads: 1}"), "test.yaml", "compute[0]");
  tessera_backend* b = nullptr;
  tessera_error err;
  tessera_error_init(&err);
  EXPECT_EQ(api().backend_create(state(), 2, tree.root(), &b, &err), TESSERA_ERR_NOT_FOUND);
  EXPECT_EQ(b, nullptr);
}

TEST(cpu_backend, SupportsOpReportsExactlyTheImplementedPairs) {
  Backend b(1);
  const int32_t dtypes[] = {TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0,
                            TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_I32,  TESSERA_DTYPE_GPTQ_4BIT};
  auto expected = [](int32_t op, int32_t dt) {
    const bool f32 = dt == TESSERA_DTYPE_F32, f16 = dt == TESSERA_DTYPE_F16;
    // Weights of every GGUF type go through the SDK's reference dequantizer.
    const bool weight = f32 || f16 || dt == TESSERA_DTYPE_BF16 || dt == TESSERA_DTYPE_Q4_0 ||
                        dt == TESSERA_DTYPE_Q8_0 || dt == TESSERA_DTYPE_Q4_K;
    switch (op) {
      case TESSERA_OP_GET_ROWS:
        return weight;
      case TESSERA_OP_MUL_MAT:  // and the GPTQ layouts, mul_mat only
        return weight || dt == TESSERA_DTYPE_GPTQ_4BIT;
      case TESSERA_OP_COPY:  // dtype: the source's
        return f32 || f16;
      case TESSERA_OP_ATTENTION:  // dtype: the KV cache's
        return f32 || f16 || dt == TESSERA_DTYPE_Q8_0;
      case TESSERA_OP_RMS_NORM:
      case TESSERA_OP_MUL:
      case TESSERA_OP_ADD:
      case TESSERA_OP_ROPE:
      case TESSERA_OP_SOFTMAX:
      case TESSERA_OP_SILU:
      case TESSERA_OP_SWIGLU:
      case TESSERA_OP_SCALE:
        return f32;
      default:
        return false;  // NONE, unknown ids
    }
  };
  for (int32_t op = 0; op <= TESSERA_OP_COUNT_ + 1; ++op)
    for (int32_t dt : dtypes)
      EXPECT_EQ(api().supports_op(b.get(), op, dt), expected(op, dt) ? 1 : 0)
          << (tessera_op_name(op) ? tessera_op_name(op) : "?") << " x " << tessera_dtype_info(dt).name;
}
