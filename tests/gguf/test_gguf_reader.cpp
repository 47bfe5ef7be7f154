// The GGUF parser on in-memory files from the test writer: every value type,
// arrays (numeric, string, nested), tensor infos, versions and alignment.
#include <gtest/gtest.h>

#include <cstring>

#include "gguf_reader.hpp"
#include "gguf_test_writer.hpp"

namespace {

using namespace tessera::test::gguf;
using tessera::gguf::GgufContents;
using tessera::gguf::parse_gguf;

// The result points into `b`: keep the bytes alive while using it.
GgufContents parse(const Bytes& b) { return parse_gguf(b.data(), b.size(), "small.gguf"); }

const tessera_value& find(const GgufContents& c, const char* key) {
  const tessera_value* v = c.metadata.find(key);
  if (v == nullptr) throw std::runtime_error(std::string("missing key ") + key);
  return *v;
}

TEST(GgufReader, ScalarsOfEveryType) {
  const Bytes file = small_model().build();
  const GgufContents c = parse(file);
  EXPECT_EQ(c.version, 3u);
  EXPECT_EQ(c.metadata.size(), 17u);
  EXPECT_EQ(c.metadata.key(0), "general.architecture");
  const tessera_value& arch = find(c, "general.architecture");
  EXPECT_EQ(arch.type, TESSERA_VALUE_STRING);
  EXPECT_EQ(std::string(arch.as.s.data, arch.as.s.size), "llama");
  EXPECT_EQ(find(c, "test.u8").type, TESSERA_VALUE_UINT8);
  EXPECT_EQ(find(c, "test.u8").as.u, 200u);
  EXPECT_EQ(find(c, "test.i8").as.i, -100);
  EXPECT_EQ(find(c, "test.u16").as.u, 60000u);
  EXPECT_EQ(find(c, "test.i16").as.i, -30000);
  EXPECT_EQ(find(c, "test.u32").as.u, 4000000000u);
  EXPECT_EQ(find(c, "test.i32").as.i, -2000000000);
  EXPECT_EQ(find(c, "test.f32").type, TESSERA_VALUE_FLOAT32);
  EXPECT_EQ(find(c, "test.f32").as.f, 0.5);
  EXPECT_EQ(find(c, "test.bool").type, TESSERA_VALUE_BOOL);
  EXPECT_EQ(find(c, "test.bool").as.b, 1);
  EXPECT_EQ(find(c, "test.u64").as.u, 1ull << 60);
  EXPECT_EQ(find(c, "test.i64").as.i, -(1ll << 60));
  EXPECT_EQ(find(c, "test.f64").type, TESSERA_VALUE_FLOAT64);
  EXPECT_EQ(find(c, "test.f64").as.f, -2.25);
  EXPECT_EQ(c.metadata.find("absent"), nullptr);
  for (uint64_t i = 0; i < c.metadata.size(); ++i) EXPECT_EQ(c.metadata.value(i).struct_size, sizeof(tessera_value));
}

TEST(GgufReader, NumericArraysPointAtPackedFileBytes) {
  const Bytes file = small_model().build();
  const GgufContents c = parse(file);
  const tessera_value& floats = find(c, "test.floats");
  ASSERT_EQ(floats.type, TESSERA_VALUE_ARRAY);
  EXPECT_EQ(floats.as.array.element_type, TESSERA_VALUE_FLOAT32);
  ASSERT_EQ(floats.as.array.count, 3u);
  const auto* p = static_cast<const uint8_t*>(floats.as.array.data);
  ASSERT_GE(p, file.data());
  ASSERT_LE(p + 12, file.data() + file.size());  // in place, not copied
  float values[3];
  std::memcpy(values, p, sizeof values);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(c.metadata.element(floats, 2).as.f, 3.5);
  EXPECT_EQ(c.metadata.element(floats, 2).type, TESSERA_VALUE_FLOAT32);

  const tessera_value& bools = find(c, "test.bools");
  EXPECT_EQ(bools.as.array.element_type, TESSERA_VALUE_BOOL);
  EXPECT_EQ(c.metadata.element(bools, 0).as.b, 1);
  EXPECT_EQ(c.metadata.element(bools, 1).as.b, 0);
}

TEST(GgufReader, StringAndNestedArrays) {
  const Bytes file = small_model().build();
  const GgufContents c = parse(file);
  const tessera_value& strings = find(c, "test.strings");
  EXPECT_EQ(strings.as.array.element_type, TESSERA_VALUE_STRING);
  EXPECT_EQ(strings.as.array.data, nullptr);
  ASSERT_EQ(strings.as.array.count, 3u);
  const tessera_value e1 = c.metadata.element(strings, 1);
  EXPECT_EQ(e1.type, TESSERA_VALUE_STRING);
  EXPECT_EQ(e1.as.s.size, 0u);
  const tessera_value e2 = c.metadata.element(strings, 2);
  EXPECT_EQ(std::string(e2.as.s.data, e2.as.s.size), "hello");

  const tessera_value& nested = find(c, "test.nested");
  EXPECT_EQ(nested.as.array.element_type, TESSERA_VALUE_ARRAY);
  ASSERT_EQ(nested.as.array.count, 3u);
  const tessera_value ints = c.metadata.element(nested, 0);
  EXPECT_EQ(ints.as.array.element_type, TESSERA_VALUE_INT32);
  EXPECT_EQ(c.metadata.element(ints, 1).as.i, 2);
  const tessera_value strs = c.metadata.element(nested, 1);
  EXPECT_EQ(strs.as.array.element_type, TESSERA_VALUE_STRING);
  const tessera_value x = c.metadata.element(strs, 0);
  EXPECT_EQ(std::string(x.as.s.data, x.as.s.size), "x");
  EXPECT_EQ(c.metadata.element(nested, 2).as.array.count, 0u);
}

TEST(GgufReader, ArrayElementErrors) {
  const Bytes file = small_model().build();
  const GgufContents c = parse(file);
  const tessera_value& floats = find(c, "test.floats");
  try {
    c.metadata.element(floats, 3);
    FAIL() << "index 3 of 3 accepted";
  } catch (const tessera::sdk::Error& e) {
    EXPECT_EQ(e.code(), TESSERA_ERR_OUT_OF_RANGE);
  }
  tessera_value forged = floats;
  forged.as.array.handle = reinterpret_cast<const void*>(uintptr_t{12345});
  try {
    c.metadata.element(forged, 0);
    FAIL() << "forged handle accepted";
  } catch (const tessera::sdk::Error& e) {
    EXPECT_EQ(e.code(), TESSERA_ERR_INVALID_ARGUMENT);
  }
}

TEST(GgufReader, TensorInfos) {
  Writer w = small_model();
  const Bytes file = w.build();
  const GgufContents c = parse(file);
  EXPECT_EQ(c.alignment, 32u);
  EXPECT_EQ(c.data_offset, w.at("data"));
  EXPECT_EQ(c.data_offset % 32, 0u);
  ASSERT_EQ(c.tensors.size(), 3u);
  EXPECT_EQ(c.tensors[0].name, "token_embd.weight");
  EXPECT_EQ(c.tensors[0].dtype, TESSERA_DTYPE_Q8_0);
  EXPECT_EQ(c.tensors[0].n_dims, 2u);
  EXPECT_EQ(c.tensors[0].dims[0], 64u);
  EXPECT_EQ(c.tensors[0].dims[1], 4u);
  EXPECT_EQ(c.tensors[0].n_bytes, 2u * 34 * 4);
  EXPECT_EQ(c.tensors[0].offset, 0u);
  EXPECT_EQ(c.tensors[1].dtype, TESSERA_DTYPE_Q4_K);
  EXPECT_EQ(c.tensors[1].n_bytes, 144u * 2);
  EXPECT_EQ(c.tensors[1].offset, 288u);  // 272 rounded up to 32
  EXPECT_EQ(c.tensors[2].n_bytes, 256u);
  EXPECT_EQ(c.tensors[2].n_dims, 1u);
  EXPECT_EQ(c.tensors[2].dims[1], 0u);
}

TEST(GgufReader, VersionTwoIsAccepted) {
  Writer w(2);
  w.kv("general.architecture", kString, string_value("llama")).tensor({"a", {4}, kTF32});
  const Bytes file = w.build();
  EXPECT_EQ(parse(file).version, 2u);
}

TEST(GgufReader, DefaultAndCustomAlignment) {
  Writer plain;
  plain.tensor({"a", {3}, kTF32}).tensor({"b", {5}, kTF32});
  const Bytes plain_file = plain.build();  // the contents point into it
  const GgufContents c = parse(plain_file);
  EXPECT_EQ(c.alignment, 32u);
  EXPECT_EQ(c.tensors[1].offset, 32u);

  Writer w(3, 64);
  w.kv("general.alignment", kU32, scalar<uint32_t>(64)).tensor({"a", {3}, kTF32}).tensor({"b", {5}, kTF32});
  const Bytes file = w.build();
  const GgufContents c64 = parse(file);
  EXPECT_EQ(c64.alignment, 64u);
  EXPECT_EQ(c64.data_offset % 64, 0u);
  EXPECT_EQ(c64.tensors[1].offset, 64u);
}

TEST(GgufReader, TensorlessFileMayOmitTrailingPadding) {
  // llama.cpp's vocab-only files end right after the metadata.
  Writer w;
  w.kv("general.architecture", kString, string_value("llama"));
  Bytes file = w.build();
  file.resize(w.at("kv.general.architecture.value") + 8 + 5);  // end of the string "llama"
  ASSERT_NE(file.size() % 32, 0u);
  const GgufContents c = parse(file);
  EXPECT_TRUE(c.tensors.empty());
  EXPECT_EQ(c.data_size, 0u);
}

TEST(GgufReader, ZeroSizedTensorsNeedNoData) {
  Writer w;
  w.tensor({"empty", {0, 4}, kTF32}).tensor({"a", {8}, kTF32});
  const Bytes file = w.build();  // the contents point into it
  const GgufContents c = parse(file);
  EXPECT_EQ(c.tensors[0].n_bytes, 0u);
  EXPECT_EQ(c.tensors[1].n_bytes, 32u);
}

TEST(GgufReader, DeepestAllowedNesting) {
  Bytes value = array_value<int32_t>(kI32, {7});
  for (int level = 1; level < tessera::gguf::kMaxArrayDepth; ++level) value = array_of_arrays({value});
  Writer w;
  w.kv("deep", kArray, value);
  const Bytes file = w.build();  // the contents point into it
  const GgufContents c = parse(file);
  tessera_value v = *c.metadata.find("deep");
  for (int level = 1; level < tessera::gguf::kMaxArrayDepth; ++level) v = c.metadata.element(v, 0);
  EXPECT_EQ(c.metadata.element(v, 0).as.i, 7);
}

}  // namespace
