// Hostile GGUF files: each is a valid small file from the test writer with
// one field corrupted. Every one must fail with TESSERA_ERR_FORMAT and a
// message naming the file, the field and what was expected.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "gguf_reader.hpp"
#include "gguf_test_writer.hpp"

namespace {

using namespace tessera::test::gguf;

constexpr const char* kFile = "hostile.gguf";

void expect_format_error(const Bytes& file, std::initializer_list<const char*> fragments) {
  try {
    tessera::gguf::parse_gguf(file.data(), file.size(), kFile);
    ADD_FAILURE() << "the hostile file was accepted";
  } catch (const tessera::sdk::Error& e) {
    EXPECT_EQ(e.code(), TESSERA_ERR_FORMAT) << e.what();
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(std::string(kFile) + ": ", 0), 0u) << message;
    for (const char* f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
  }
}

// The valid base file and its field positions.
struct Base {
  Writer writer = small_model();
  Bytes file = writer.build();
  size_t at(const std::string& field) const { return writer.at(field); }
};

TEST(GgufHostile, BadMagic) {
  Base b;
  b.file[0] = 'X';
  expect_format_error(b.file, {"bad magic 58 47 55 46", "expected \"GGUF\""});
}

TEST(GgufHostile, VersionOneIsRefusedByName) {
  Base b;
  patch<uint32_t>(b.file, b.at("version"), 1);
  expect_format_error(b.file, {"GGUF version 1 is not supported", "expected version 2 or 3"});
}

TEST(GgufHostile, UnknownVersion) {
  Base b;
  patch<uint32_t>(b.file, b.at("version"), 7);
  expect_format_error(b.file, {"unsupported GGUF version 7", "expected 2 or 3"});
  patch<uint32_t>(b.file, b.at("version"), 0x03000000);
  expect_format_error(b.file, {"big-endian"});
}

TEST(GgufHostile, TruncatedHeader) {
  Base b;
  b.file.resize(3);
  expect_format_error(b.file, {"truncated header (magic)"});
  Base c;
  c.file.resize(12);
  expect_format_error(c.file, {"truncated header (tensor count)", "needs 8 bytes", "has 4 left"});
  Base d;
  d.file.resize(20);
  expect_format_error(d.file, {"truncated header (metadata count)"});
}

TEST(GgufHostile, TruncatedTensorData) {
  Base b;
  b.file.resize(b.file.size() - 1);
  expect_format_error(b.file, {"tensor 'output_norm.weight'", "outside the data section"});
}

TEST(GgufHostile, TruncatedTensorInfos) {
  Base b;
  b.file.resize(b.at("tensor.output_norm.weight.offset") + 3);
  expect_format_error(b.file, {"truncated tensor 'output_norm.weight' offset"});
}

TEST(GgufHostile, MetadataCountLargerThanFile) {
  Base b;
  patch<uint64_t>(b.file, b.at("kv_count"), uint64_t{1} << 40);
  expect_format_error(b.file, {"metadata count 1099511627776", "the file has 1576 left"});
  patch<uint64_t>(b.file, b.at("kv_count"), UINT64_MAX);
  expect_format_error(b.file, {"metadata count 18446744073709551615", "2^64"});
}

TEST(GgufHostile, TensorCountLargerThanFile) {
  Base b;
  patch<uint64_t>(b.file, b.at("tensor_count"), uint64_t{1} << 40);
  expect_format_error(b.file, {"tensor count 1099511627776", "bytes of tensor infos, the file has"});
}

TEST(GgufHostile, KeyLengthLargerThanFile) {
  Base b;
  patch<uint64_t>(b.file, b.at("kv.test.u8.key_length"), uint64_t{1} << 50);
  expect_format_error(b.file, {"key of metadata entry 2", "has length 1125899906842624", "bytes left"});
}

TEST(GgufHostile, StringLengthLargerThanFile) {
  Base b;
  patch<uint64_t>(b.file, b.at("kv.general.architecture.value"), uint64_t{1} << 50);
  expect_format_error(b.file, {"metadata 'general.architecture' string", "has length 1125899906842624"});
}

TEST(GgufHostile, StringInArrayLongerThanFile) {
  Base b;
  // Element 2 ("hello") of test.strings: after type, count, "a" and "".
  patch<uint64_t>(b.file, b.at("kv.test.strings.value") + 4 + 8 + 9 + 8, uint64_t{1} << 33);
  expect_format_error(b.file, {"metadata 'test.strings' [2] string", "has length 8589934592"});
}

TEST(GgufHostile, ArrayCountLargerThanFile) {
  Base b;
  patch<uint64_t>(b.file, b.at("kv.test.floats.value") + 4, uint64_t{1} << 40);
  expect_format_error(b.file, {"metadata 'test.floats'", "array of 1099511627776 FLOAT32 (6) elements"});
  Base c;
  patch<uint64_t>(c.file, c.at("kv.test.strings.value") + 4, UINT64_MAX);
  expect_format_error(c.file, {"metadata 'test.strings'", "STRING (8) elements", "2^64"});
}

TEST(GgufHostile, UnknownValueType) {
  Base b;
  patch<uint32_t>(b.file, b.at("kv.test.u8.type"), 13);
  expect_format_error(b.file, {"metadata 'test.u8'", "unknown value type 13", "expected 0..12"});
}

TEST(GgufHostile, UnknownArrayElementType) {
  Base b;
  patch<uint32_t>(b.file, b.at("kv.test.floats.value"), 99);
  expect_format_error(b.file, {"metadata 'test.floats'", "array of unknown value type 99"});
}

TEST(GgufHostile, BoolOtherThanZeroOrOne) {
  Base b;
  b.file[b.at("kv.test.bool.value")] = 2;
  expect_format_error(b.file, {"metadata 'test.bool'", "BOOL value is 2, expected 0 or 1"});
  Base c;
  c.file[c.at("kv.test.bools.value") + 12 + 1] = 7;
  expect_format_error(c.file, {"metadata 'test.bools' element 1", "BOOL value is 7"});
}

TEST(GgufHostile, DuplicateKeys) {
  Writer w = small_model();
  w.kv("test.u8", kU8, scalar<uint8_t>(1));
  expect_format_error(w.build(), {"metadata key 'test.u8' appears twice", "entries 2 and 17", "expected unique keys"});
}

TEST(GgufHostile, EmptyKey) {
  Writer w;
  w.kv("", kU8, scalar<uint8_t>(1));
  expect_format_error(w.build(), {"metadata entry 0 has an empty key"});
}

TEST(GgufHostile, ArraysNestedTooDeep) {
  Bytes value = array_value<int32_t>(kI32, {7});
  for (int level = 0; level < tessera::gguf::kMaxArrayDepth; ++level) value = array_of_arrays({value});
  Writer w;
  w.kv("deep", kArray, value);
  expect_format_error(w.build(), {"metadata 'deep' [0] [0] [0] [0] [0] [0] [0] [0]", "nested deeper than 8 levels"});
}

TEST(GgufHostile, AlignmentNotAPowerOfTwo) {
  for (uint32_t bad : {0u, 48u}) {
    Base b;
    patch<uint32_t>(b.file, b.at("kv.general.alignment.value"), bad);
    expect_format_error(b.file, {"metadata 'general.alignment' is", "expected a power of two > 0"});
  }
}

TEST(GgufHostile, AlignmentOfWrongType) {
  Writer w;
  w.kv("general.alignment", kU64, scalar<uint64_t>(32));
  expect_format_error(w.build(), {"metadata 'general.alignment' has type UINT64, expected UINT32"});
}

TEST(GgufHostile, TensorNameLengthLargerThanFile) {
  Base b;
  patch<uint64_t>(b.file, b.at("tensor.blk.0.attn_q.weight.name_length"), uint64_t{1} << 45);
  expect_format_error(b.file, {"name of tensor 1", "has length 35184372088832"});
}

TEST(GgufHostile, ZeroDims) {
  Base b;
  patch<uint32_t>(b.file, b.at("tensor.token_embd.weight.n_dims"), 0);
  expect_format_error(b.file, {"tensor 'token_embd.weight': n_dims is 0, expected 1..4"});
}

TEST(GgufHostile, TooManyDims) {
  Base b;
  patch<uint32_t>(b.file, b.at("tensor.token_embd.weight.n_dims"), 5);
  expect_format_error(b.file, {"tensor 'token_embd.weight': n_dims is 5, expected 1..4"});
}

TEST(GgufHostile, DimensionProductOverflows) {
  Base b;
  patch<uint64_t>(b.file, b.at("tensor.blk.0.attn_q.weight.dims") + 8, uint64_t{1} << 60);
  expect_format_error(b.file, {"tensor 'blk.0.attn_q.weight'", "dims [256, 1152921504606846976]", "overflows 64 bits"});
}

TEST(GgufHostile, DimensionBeyondInt64) {
  Base b;
  patch<uint64_t>(b.file, b.at("tensor.output_norm.weight.dims"), UINT64_MAX);
  expect_format_error(b.file, {"tensor 'output_norm.weight'", "dims[0] = 18446744073709551615", "int64"});
}

TEST(GgufHostile, ByteSizeOverflows) {
  // 2^62 F32 elements fit in uint64, their 2^64 bytes do not.
  Base b;
  patch<uint64_t>(b.file, b.at("tensor.output_norm.weight.dims"), uint64_t{1} << 62);
  expect_format_error(b.file, {"tensor 'output_norm.weight'", "byte size overflows 64 bits"});
}

TEST(GgufHostile, RowNotAMultipleOfTheBlock) {
  Base b;
  patch<uint64_t>(b.file, b.at("tensor.token_embd.weight.dims"), 65);
  expect_format_error(b.file, {"tensor 'token_embd.weight'", "dims[0] = 65 is not a multiple of the Q8_0 block size 32"});
}

TEST(GgufHostile, OffsetNotAligned) {
  Base b;
  const uint64_t offset = 576 + 1;
  patch<uint64_t>(b.file, b.at("tensor.output_norm.weight.offset"), offset);
  expect_format_error(b.file, {"tensor 'output_norm.weight': offset 577 is not a multiple of alignment 32"});
}

TEST(GgufHostile, OffsetOutsideTheDataSection) {
  Base b;
  patch<uint64_t>(b.file, b.at("tensor.output_norm.weight.offset"), uint64_t{1} << 40);
  expect_format_error(b.file, {"tensor 'output_norm.weight': data at offset 1099511627776", "outside the data section"});
  Base c;
  patch<uint64_t>(c.file, c.at("tensor.output_norm.weight.offset"), UINT64_MAX - 31);
  expect_format_error(c.file, {"tensor 'output_norm.weight'", "outside the data section"});
}

TEST(GgufHostile, OverlappingTensors) {
  Base b;
  patch<uint64_t>(b.file, b.at("tensor.blk.0.attn_q.weight.offset"), 256);
  expect_format_error(b.file, {"tensor 'blk.0.attn_q.weight': data at offset 256 overlaps tensor 'token_embd.weight'",
                               "expected offset >= 272"});
}

TEST(GgufHostile, DuplicateTensorNames) {
  Writer w;
  w.tensor({"a", {8}, kTF32}).tensor({"b", {8}, kTF32}).tensor({"a", {8}, kTF32});
  expect_format_error(w.build(), {"tensor 'a' appears twice (tensors 0 and 2)"});
}

TEST(GgufHostile, TensorNameWithNul) {
  Writer w;
  w.tensor({std::string("a\0b", 3), {8}, kTF32});
  expect_format_error(w.build(), {"tensor 0: name contains a NUL byte"});
}

TEST(GgufHostile, UnimplementedTypeIsNamed) {
  Base b;
  patch<uint32_t>(b.file, b.at("tensor.output_norm.weight.type"), 16);
  expect_format_error(b.file, {"tensor 'output_norm.weight'", "ggml type IQ2_XXS (id 16) is not supported"});
}

TEST(GgufHostile, UnknownTypeIdIsReportedByNumber) {
  for (uint32_t id : {4u, 5u, 31u, 39u, 99u, 1000u, 0xFFFFFFFFu}) {
    Base b;
    patch<uint32_t>(b.file, b.at("tensor.output_norm.weight.type"), id);
    const std::string expected = "unknown ggml type id " + std::to_string(id);
    expect_format_error(b.file, {"tensor 'output_norm.weight'", expected.c_str()});
  }
}

TEST(GgufHostile, DataSectionStartBeyondTheFile) {
  Writer w;
  w.tensor({"a", {8}, kTF32});
  Bytes file = w.build();
  const size_t infos_end = w.at("tensor.a.offset") + 8;
  ASSERT_LT(infos_end, w.at("data"));  // there is padding to cut into
  file.resize(infos_end + 1);
  expect_format_error(file, {"truncated: the data section starts at byte 64", "the file has 58 bytes"});
}

}  // namespace
