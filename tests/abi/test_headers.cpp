// The SDK headers from C (headers_c99.c, compiled as strict C99) and C++
// agree, and their helpers follow the documented rules.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "tessera/tessera.h"

extern "C" {
const char* c99_status_name(int code);
int c99_error_roundtrip(char* out, size_t out_size);
unsigned c99_block_bytes(int dtype);
size_t c99_descriptor_min_size(void);
size_t c99_descriptor_size(void);
}

TEST(AbiHeaders, CAndCppSeeTheSameLayout) {
  EXPECT_EQ(c99_descriptor_size(), sizeof(tessera_plugin_descriptor));
  EXPECT_EQ(c99_descriptor_min_size(), TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE);
  // ABI 1.1 appended author and license after the 1.0 fields.
  EXPECT_EQ(TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE, offsetof(tessera_plugin_descriptor, kernel) + sizeof(void*));
  EXPECT_GT(sizeof(tessera_plugin_descriptor), TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE);
}

TEST(AbiHeaders, ErrorsFromCCarryCodeAndMessage) {
  char message[128];
  EXPECT_EQ(c99_error_roundtrip(message, sizeof message), TESSERA_ERR_FORMAT);
  EXPECT_EQ(std::string(message), "field general.alignment expected 32");
  EXPECT_EQ(std::string(c99_status_name(TESSERA_ERR_ABI_MISMATCH)), "ABI mismatch");
  EXPECT_EQ(std::string(c99_status_name(12345)), "unknown status");
}

TEST(AbiHeaders, ErrorMessagesAreTruncatedNotOverflowed) {
  tessera_error err;
  tessera_error_init(&err);
  const std::string huge(5000, 'x');
  tessera_error_set(&err, TESSERA_ERR_IO, "%s", huge.c_str());
  EXPECT_EQ(std::string(err.message).size(), static_cast<size_t>(TESSERA_ERROR_MESSAGE_CAPACITY - 1));
  tessera_error_set(nullptr, TESSERA_ERR_IO, "a NULL error is allowed");
}

// Block geometry as the GGUF/ggml format defines it (bytes per block of
// 32 or 256 values), checked from the C side.
TEST(AbiHeaders, DtypeBlockSizesMatchTheGgufFormat) {
  EXPECT_EQ(c99_block_bytes(TESSERA_DTYPE_Q4_0), 2u + 16u);              // f16 scale + 32 nibbles
  EXPECT_EQ(c99_block_bytes(TESSERA_DTYPE_Q8_0), 2u + 32u);              // f16 scale + 32 int8
  EXPECT_EQ(c99_block_bytes(TESSERA_DTYPE_Q4_K), 2u + 2u + 12u + 128u);  // d, dmin, scales, nibbles
  EXPECT_EQ(c99_block_bytes(TESSERA_DTYPE_Q6_K), 128u + 64u + 16u + 2u);
  EXPECT_EQ(c99_block_bytes(TESSERA_DTYPE_IQ2_XXS), 0u);  // not described: never guessed
  EXPECT_EQ(tessera_dtype_info(TESSERA_DTYPE_Q2_K).block_elements, 256u);
}

TEST(AbiHeaders, HasFieldChecksStructSize) {
  tessera_plugin_descriptor d{};
  d.struct_size = TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE;
  EXPECT_TRUE(TESSERA_HAS_FIELD(&d, tessera_plugin_descriptor, kernel));
  EXPECT_FALSE(TESSERA_HAS_FIELD(&d, tessera_plugin_descriptor, author));
  d.struct_size = sizeof d;
  EXPECT_TRUE(TESSERA_HAS_FIELD(&d, tessera_plugin_descriptor, license));
}

// A compute table built against ABI 1.1 ends at native_context: the host
// must not read buffer_wrap_host (1.2) from it.
TEST(AbiHeaders, AnAbi11ComputeTableHasNoBufferWrapHost) {
  tessera_compute_interface t{};
  t.struct_size = TESSERA_SIZE_THROUGH(tessera_compute_interface, native_context);
  EXPECT_TRUE(TESSERA_HAS_FIELD(&t, tessera_compute_interface, native_context));
  EXPECT_FALSE(TESSERA_HAS_FIELD(&t, tessera_compute_interface, buffer_wrap_host));
  t.struct_size = sizeof t;
  EXPECT_TRUE(TESSERA_HAS_FIELD(&t, tessera_compute_interface, buffer_wrap_host));
}
