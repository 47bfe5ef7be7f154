// The strict safetensors parser on in-memory files: a valid file parses to
// exactly what the test writer put in; each hostile file (one field
// corrupted) fails with TESSERA_ERR_FORMAT and a message naming the file,
// the tensor and the field.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "safetensors.hpp"
#include "safetensors_test_writer.hpp"
#include "tessera/cpp/plugin.hpp"

namespace {

using namespace tessera::test::gptq;
using tessera::gptq::parse_safetensors;
using tessera::gptq::StDtype;

constexpr const char* kFile = "hostile.safetensors";

void expect_format_error(const Bytes& file, std::initializer_list<const char*> fragments) {
  try {
    parse_safetensors(file.data(), file.size(), kFile);
    ADD_FAILURE() << "the hostile file was accepted";
  } catch (const tessera::sdk::Error& e) {
    EXPECT_EQ(e.code(), TESSERA_ERR_FORMAT) << e.what();
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(std::string(kFile) + ": ", 0), 0u) << message;
    for (const char* f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
  }
}

std::vector<StEntry> two_tensors() {
  return {{"a", "F16", {2, 3}, Bytes(12, 0x11)}, {"b", "I32", {4}, Bytes(16, 0x22)}};
}

Bytes with_header(const nlohmann::json& header, const Bytes& data) { return assemble_safetensors(header.dump(), data); }

TEST(SafetensorsParser, ParsesWhatTheWriterWrote) {
  auto entries = two_tensors();
  entries.push_back({"scalar", "F32", {}, Bytes(4, 0x33)});
  entries.push_back({"empty", "BF16", {0, 5}, Bytes{}});
  nlohmann::json header = safetensors_header(entries);
  header["__metadata__"] = {{"format", "pt"}};
  const Bytes file = assemble_safetensors(header.dump() + "    ", concat_data(entries));  // padded header
  const auto c = parse_safetensors(file.data(), file.size(), kFile);
  ASSERT_EQ(c.tensors.size(), 4u);
  EXPECT_EQ(c.metadata.at("format"), "pt");
  const auto* a = c.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, StDtype::F16);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a->n_bytes(), 12u);
  EXPECT_EQ(a->data, file.data() + c.data_offset);
  EXPECT_EQ(a->data[0], 0x11);
  const auto* b = c.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, StDtype::I32);
  EXPECT_EQ(b->data - file.data(), static_cast<ptrdiff_t>(c.data_offset + 12));
  EXPECT_EQ(c.find("scalar")->element_count(), 1u);
  EXPECT_EQ(c.find("empty")->n_bytes(), 0u);
}

TEST(SafetensorsParser, FileShorterThanTheLengthField) {
  expect_format_error(Bytes(5, 0), {"5 bytes", "expected at least 8"});
}

TEST(SafetensorsParser, HeaderLengthBeyondTheFile) {
  Bytes file = build_safetensors(two_tensors());
  file[0] = 0xff;
  file[1] = 0x7f;
  expect_format_error(file, {"header length 32767 runs past the end of the file"});
}

TEST(SafetensorsParser, HeaderLengthAboveTheCap) {
  Bytes file = build_safetensors(two_tensors());
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = 0xff;
  expect_format_error(file, {"exceeds the limit of 104857600 bytes"});
}

TEST(SafetensorsParser, HeaderIsNotJson) {
  expect_format_error(assemble_safetensors("{\"a\": ", {}), {"header is not valid JSON"});
  expect_format_error(assemble_safetensors("[1, 2]", {}), {"does not start with '{'"});
}

TEST(SafetensorsParser, TruncatedData) {
  Bytes file = build_safetensors(two_tensors());
  file.resize(file.size() - 3);
  expect_format_error(file, {"tensor 'b'", "'data_offsets' [12, 28) runs past the data section of 25 bytes"});
}

TEST(SafetensorsParser, TrailingBytesAfterTheTensors) {
  Bytes file = build_safetensors(two_tensors());
  file.push_back(0);
  expect_format_error(file, {"cover 28 bytes of the data section; expected all 29"});
}

TEST(SafetensorsParser, OverlappingTensors) {
  auto header = safetensors_header(two_tensors());
  header["b"]["data_offsets"] = {8, 24};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "[8, 24) overlaps tensor 'a' [0, 12)"});
}

TEST(SafetensorsParser, HoleBetweenTensors) {
  auto header = safetensors_header(two_tensors());
  header["b"]["data_offsets"] = {14, 30};
  expect_format_error(with_header(header, Bytes(30, 0)), {"tensor 'b'", "begins at 14; expected 12"});
}

TEST(SafetensorsParser, OffsetsOutOfRangeOrReversed) {
  auto header = safetensors_header(two_tensors());
  header["b"]["data_offsets"] = {12, 1000};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "runs past the data section of 28 bytes"});
  header["b"]["data_offsets"] = {28, 12};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "ends before it begins"});
  header["b"]["data_offsets"] = {12, -1};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "'data_offsets' is missing or malformed"});
  header["b"]["data_offsets"] = {12};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "'data_offsets' is missing or malformed"});
}

TEST(SafetensorsParser, SizeDisagreesWithShape) {
  auto header = safetensors_header(two_tensors());
  header["b"]["shape"] = {5};
  expect_format_error(with_header(header, Bytes(28, 0)),
                      {"tensor 'b'", "spans 16 bytes; expected 20 (shape x I32 size)"});
}

TEST(SafetensorsParser, ShapeOverflow) {
  auto header = safetensors_header(two_tensors());
  header["b"]["shape"] = {1ull << 40, 1ull << 40};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "more bytes than fit in 64 bits"});
  header["b"]["shape"] = {4ull, 1ull << 62};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "more bytes than fit in 64 bits"});
}

TEST(SafetensorsParser, BadShapeEntries) {
  auto header = safetensors_header(two_tensors());
  header["b"]["shape"] = {-4};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "'shape' holds -4"});
  header["b"]["shape"] = "4";
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "'shape' is missing or not a list"});
  header["b"]["shape"] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "9 dimensions; expected at most 8"});
}

TEST(SafetensorsParser, UnknownDtype) {
  auto header = safetensors_header(two_tensors());
  header["b"]["dtype"] = "Q4";
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "field 'dtype' is 'Q4'; expected one of"});
  header["b"].erase("dtype");
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "'dtype' is missing"});
}

TEST(SafetensorsParser, UnknownFieldAndBadEntries) {
  auto header = safetensors_header(two_tensors());
  header["b"]["offset"] = 3;
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'b'", "unknown field 'offset'"});
  header = safetensors_header(two_tensors());
  header["c"] = 5;
  expect_format_error(with_header(header, Bytes(28, 0)), {"tensor 'c'", "entry is not an object"});
  header = safetensors_header(two_tensors());
  header["__metadata__"] = {{"n", 1}};
  expect_format_error(with_header(header, Bytes(28, 0)), {"'__metadata__.n' is not a string"});
}

TEST(SafetensorsParser, DuplicateTensorName) {
  const std::string text = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                           R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  expect_format_error(assemble_safetensors(text, Bytes(2, 0)), {"names 'a' twice"});
}

// nlohmann would keep the last of two equal keys inside an entry too; the
// first "dtype" (U8, matching the size) would be silently replaced.
TEST(SafetensorsParser, DuplicateFieldInsideAnEntry) {
  const std::string dtype = R"({"a":{"dtype":"U8","dtype":"I8","shape":[2],"data_offsets":[0,2]}})";
  expect_format_error(assemble_safetensors(dtype, Bytes(2, 0)),
                      {"tensor 'a'", "field 'dtype' appears twice", "expected dtype, shape and data_offsets once each"});
  const std::string offsets = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"data_offsets":[0,2]}})";
  expect_format_error(assemble_safetensors(offsets, Bytes(2, 0)), {"tensor 'a'", "field 'data_offsets' appears twice"});
  const std::string metadata = R"({"__metadata__":{"format":"pt","format":"np"},)"
                               R"("a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
  expect_format_error(assemble_safetensors(metadata, Bytes(2, 0)), {"'__metadata__' names 'format' twice"});
  // The same field name in two different entries is fine.
  const std::string two = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                          R"("b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  const Bytes ok = assemble_safetensors(two, Bytes(2, 0));
  EXPECT_NO_THROW(parse_safetensors(ok.data(), ok.size(), kFile));
}

TEST(SafetensorsParser, DeepNestingIsRefused) {
  std::string text = "{\"__metadata__\":";
  for (int i = 0; i < 100000; ++i) text += "[";
  expect_format_error(assemble_safetensors(text, {}), {"nests deeper than 3 levels"});
}

// Every truncation of a valid file fails cleanly (or, at the full length,
// parses).
TEST(SafetensorsParser, EveryTruncationFailsCleanly) {
  const Bytes file = build_safetensors(two_tensors());
  for (size_t n = 0; n < file.size(); ++n) {
    const Bytes cut(file.begin(), file.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_THROW(parse_safetensors(cut.data(), cut.size(), kFile), tessera::sdk::Error) << n;
  }
  EXPECT_NO_THROW(parse_safetensors(file.data(), file.size(), kFile));
}

}  // namespace
