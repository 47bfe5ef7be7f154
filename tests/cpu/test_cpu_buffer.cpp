// Buffers: alignment, round trips and bounds errors that never crash.
#include <limits>

#include "cpu_test_support.hpp"

using namespace tessera::cpu_test;

namespace {

struct cpu_buffer : ::testing::Test {
  Backend backend{1};
  tessera_error err{};
  void SetUp() override { tessera_error_init(&err); }
};

}  // namespace

TEST_F(cpu_buffer, IsAlignedAndRoundTrips) {
  for (uint64_t size : {1u, 63u, 64u, 1000u}) {
    tessera_buffer* b = backend.alloc(size);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(api().buffer_base(b)) % 64, 0u) << size;
    std::vector<unsigned char> in(size), out(size);
    for (size_t i = 0; i < size; ++i) in[i] = static_cast<unsigned char>(i * 7 + 3);
    ASSERT_EQ(api().buffer_write(b, 0, in.data(), size, &err), TESSERA_OK) << err.message;
    ASSERT_EQ(api().buffer_read(b, 0, out.data(), size, &err), TESSERA_OK) << err.message;
    EXPECT_EQ(in, out);
  }
}

TEST_F(cpu_buffer, PartialWritesLandAtTheirOffset) {
  tessera_buffer* b = backend.alloc(16);
  const uint32_t v = 0xDEADBEEF;
  ASSERT_EQ(api().buffer_write(b, 12, &v, 4, &err), TESSERA_OK) << err.message;
  uint32_t back = 0;
  ASSERT_EQ(api().buffer_read(b, 12, &back, 4, &err), TESSERA_OK);
  EXPECT_EQ(back, v);
  EXPECT_EQ(std::memcmp(static_cast<const char*>(api().buffer_base(b)) + 12, &v, 4), 0);
}

TEST_F(cpu_buffer, ZeroSizeBufferAndAccessAreValid) {
  tessera_buffer* b = backend.alloc(0);
  EXPECT_NE(api().buffer_base(b), nullptr);
  EXPECT_EQ(api().buffer_write(b, 0, nullptr, 0, &err), TESSERA_OK) << err.message;
  EXPECT_EQ(api().buffer_read(b, 0, nullptr, 0, &err), TESSERA_OK) << err.message;
}

TEST_F(cpu_buffer, OutOfBoundsAccessIsReported) {
  tessera_buffer* b = backend.alloc(100);
  char data[16] = {};
  EXPECT_EQ(api().buffer_write(b, 90, data, 16, &err), TESSERA_ERR_OUT_OF_RANGE);
  EXPECT_NE(std::string(err.message).find("buffer_write"), std::string::npos) << err.message;
  EXPECT_NE(std::string(err.message).find("100 bytes"), std::string::npos) << err.message;
  EXPECT_EQ(api().buffer_read(b, 101, data, 0, &err), TESSERA_ERR_OUT_OF_RANGE);
  EXPECT_NE(std::string(err.message).find("buffer_read"), std::string::npos) << err.message;
  // offset + size wraps around 2^64: must still be caught.
  const uint64_t huge = std::numeric_limits<uint64_t>::max() - 4;
  EXPECT_EQ(api().buffer_write(b, huge, data, 16, &err), TESSERA_ERR_OUT_OF_RANGE);
  EXPECT_EQ(api().buffer_read(b, 8, data, huge, &err), TESSERA_ERR_OUT_OF_RANGE);
}

TEST_F(cpu_buffer, BadHandlesAndPointersAreErrors) {
  char data[4] = {};
  EXPECT_EQ(api().buffer_write(nullptr, 0, data, 4, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(api().buffer_read(nullptr, 0, data, 4, &err), TESSERA_ERR_INVALID_ARGUMENT);
  tessera_buffer* b = backend.alloc(8);
  EXPECT_EQ(api().buffer_write(b, 0, nullptr, 4, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(api().buffer_read(b, 0, nullptr, 4, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(api().buffer_base(nullptr), nullptr);
  api().buffer_free(nullptr);  // no-op
  tessera_buffer* out = nullptr;
  EXPECT_EQ(api().buffer_alloc(nullptr, 8, &out, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out, nullptr);
}

TEST_F(cpu_buffer, ImpossibleSizeIsOutOfMemory) {
  tessera_buffer* out = nullptr;
  EXPECT_EQ(api().buffer_alloc(backend.get(), std::numeric_limits<uint64_t>::max(), &out, &err),
            TESSERA_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(out, nullptr);
}
