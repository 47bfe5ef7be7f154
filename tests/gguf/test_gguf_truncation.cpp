// Robustness sweeps over a small valid file: every proper prefix and every
// single-byte corruption must either parse or fail with TESSERA_ERR_FORMAT
// naming the file; nothing may crash or read out of bounds (run under
// TESSERA_SANITIZE=ON to let ASan prove the latter).
#include <gtest/gtest.h>

#include <string>

#include "gguf_reader.hpp"
#include "gguf_test_writer.hpp"

namespace {

using namespace tessera::test::gguf;

// Copies the prefix so ASan sees the true end of the buffer.
bool parses(const Bytes& file, size_t size, std::string& message) {
  const Bytes copy(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(size));
  try {
    tessera::gguf::parse_gguf(copy.data(), copy.size(), "sweep.gguf");
    return true;
  } catch (const tessera::sdk::Error& e) {
    message = e.what();
    EXPECT_EQ(e.code(), TESSERA_ERR_FORMAT) << "size " << size << ": " << message;
    EXPECT_EQ(message.rfind("sweep.gguf: ", 0), 0u) << message;
    return false;
  }
}

TEST(GgufTruncation, EveryPrefixIsRefused) {
  const Bytes file = small_model().build();
  std::string message;
  ASSERT_TRUE(parses(file, file.size(), message)) << message;
  // The last tensor ends the file, so every shorter prefix lacks something.
  for (size_t size = 0; size < file.size(); ++size) EXPECT_FALSE(parses(file, size, message)) << "prefix " << size;
}

TEST(GgufTruncation, EverySingleByteCorruptionIsHandled) {
  const Bytes file = small_model().build();
  size_t refused = 0;
  for (size_t pos = 0; pos < file.size(); ++pos) {
    for (int mask : {0x01, 0x80, 0xFF}) {
      Bytes bad = file;
      bad[pos] = static_cast<uint8_t>(bad[pos] ^ mask);
      std::string message;
      if (!parses(bad, bad.size(), message)) ++refused;
    }
  }
  EXPECT_GT(refused, 0u);
}

}  // namespace
