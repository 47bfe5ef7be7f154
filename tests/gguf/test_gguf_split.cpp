// Split models (gguf-split layout): parts found from the first part's name,
// tensors merged with their file index, metadata from the first part, and
// every inconsistency between the parts refused.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "gguf_model.hpp"
#include "gguf_test_writer.hpp"
#include "split_name.hpp"

namespace {

namespace fs = std::filesystem;
using namespace tessera::test::gguf;
using tessera::gguf::GgufModel;

class GgufSplit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera-gguf-split-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Part `no` (0-based) of `count` with the split keys gguf-split writes.
  static Writer part(uint16_t no, uint16_t count, int32_t total_tensors) {
    Writer w;
    if (no == 0) w.kv("general.architecture", kString, string_value("llama"));
    w.kv("split.no", kU16, scalar<uint16_t>(no))
        .kv("split.count", kU16, scalar<uint16_t>(count))
        .kv("split.tensors.count", kI32, scalar<int32_t>(total_tensors));
    return w;
  }
  fs::path write(const std::string& name, Writer w) {
    const fs::path p = dir_ / name;
    write_file(p, w.build());
    return p;
  }
  void write_good_pair() {
    first_ = write("m-00001-of-00002.gguf",
                   part(0, 2, 3).tensor({"token_embd.weight", {32, 2}, kTQ8_0}).tensor({"a", {8}, kTF32}));
    Writer second = part(1, 2, 3).tensor({"output.weight", {16}, kTF16});
    second_bytes_ = second.build();
    write_file(dir_ / "m-00002-of-00002.gguf", second_bytes_);
    second_data_ = second.at("data");
  }
  static std::unique_ptr<GgufModel> open(const fs::path& p) { return GgufModel::open(p.string(), {}); }
  static void expect_error(const fs::path& p, tessera_status code, std::initializer_list<std::string> fragments) {
    try {
      open(p);
      ADD_FAILURE() << "opened " << p;
    } catch (const tessera::sdk::Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }

  fs::path dir_, first_;
  Bytes second_bytes_;
  size_t second_data_ = 0;
};

TEST(GgufSplitName, ParsesAndFormats) {
  const auto n = tessera::gguf::parse_split_name("/x/model-q4-00002-of-00005.gguf");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->prefix, "/x/model-q4");
  EXPECT_EQ(n->number, 2u);
  EXPECT_EQ(n->count, 5u);
  EXPECT_EQ(tessera::gguf::split_part_path(n->prefix, 1, 5), "/x/model-q4-00001-of-00005.gguf");
  EXPECT_FALSE(tessera::gguf::parse_split_name("model.gguf"));
  EXPECT_FALSE(tessera::gguf::parse_split_name("m-00003-of-00002.gguf"));
  EXPECT_FALSE(tessera::gguf::parse_split_name("m-00000-of-00002.gguf"));
  EXPECT_FALSE(tessera::gguf::parse_split_name("m-0001-of-00002.gguf"));
  EXPECT_FALSE(tessera::gguf::parse_split_name("m-00001-of-00002.bin"));
}

TEST_F(GgufSplit, OpensEveryPartAndMergesTensors) {
  write_good_pair();
  const auto model = open(first_);
  EXPECT_EQ(model->part_count(), 2u);
  ASSERT_EQ(model->tensor_count(), 3u);
  EXPECT_EQ(model->tensor(0).file_index, 0u);
  EXPECT_EQ(model->tensor(1).file_index, 0u);
  const auto& out = model->tensor(2);
  EXPECT_EQ(out.record->name, "output.weight");
  EXPECT_EQ(out.file_index, 1u);
  EXPECT_EQ(out.file_offset, second_data_);
  EXPECT_EQ(out.record->n_bytes, 32u);
  EXPECT_EQ(std::memcmp(out.data, second_bytes_.data() + second_data_, 32), 0);
  EXPECT_EQ(model->find_tensor("output.weight"), 2u);
  // Metadata comes from the first part only.
  EXPECT_NE(model->metadata().find("general.architecture"), nullptr);
  EXPECT_EQ(model->metadata().find("split.no")->as.u, 0u);
}

TEST_F(GgufSplit, MissingPartIsAnIoErrorNamingIt) {
  write_good_pair();
  fs::remove(dir_ / "m-00002-of-00002.gguf");
  expect_error(first_, TESSERA_ERR_IO, {"m-00002-of-00002.gguf", "cannot open"});
}

TEST_F(GgufSplit, OpeningALaterPartNamesTheFirst) {
  write_good_pair();
  expect_error(dir_ / "m-00002-of-00002.gguf", TESSERA_ERR_FORMAT,
               {"is part 2 of 2 of a split model", "m-00001-of-00002.gguf"});
}

TEST_F(GgufSplit, PartWithWrongNumberIsRefused) {
  write_good_pair();
  write("m-00002-of-00002.gguf", part(0, 2, 3).tensor({"output.weight", {16}, kTF16}));
  expect_error(first_, TESSERA_ERR_FORMAT, {"m-00002-of-00002.gguf", "metadata 'split.no' is 0, expected 1"});
}

TEST_F(GgufSplit, PartWithWrongCountIsRefused) {
  write_good_pair();
  write("m-00002-of-00002.gguf", part(1, 3, 3).tensor({"output.weight", {16}, kTF16}));
  expect_error(first_, TESSERA_ERR_FORMAT, {"m-00002-of-00002.gguf", "metadata 'split.count' is 3, expected 2"});
}

TEST_F(GgufSplit, TensorTotalMustMatch) {
  write_good_pair();
  write("m-00001-of-00002.gguf", part(0, 2, 4).tensor({"token_embd.weight", {32, 2}, kTQ8_0}).tensor({"a", {8}, kTF32}));
  expect_error(first_, TESSERA_ERR_FORMAT, {"metadata 'split.tensors.count' is 4", "hold 3 tensors"});
}

TEST_F(GgufSplit, DuplicateTensorAcrossParts) {
  write_good_pair();
  write("m-00002-of-00002.gguf", part(1, 2, 3).tensor({"a", {16}, kTF16}));
  expect_error(first_, TESSERA_ERR_FORMAT, {"tensor 'a' is also in part 1", "expected unique tensor names"});
}

TEST_F(GgufSplit, NameMustFollowTheSplitPattern) {
  write_good_pair();
  fs::copy_file(first_, dir_ / "renamed.gguf");
  expect_error(dir_ / "renamed.gguf", TESSERA_ERR_FORMAT,
               {"split.count is 2", "does not follow NAME-00001-of-00002.gguf"});
}

TEST_F(GgufSplit, SingleFileWithSplitNameIsJustAFile) {
  const fs::path p = write("solo-00001-of-00001.gguf", part(0, 1, 1).tensor({"a", {8}, kTF32}));
  EXPECT_EQ(open(p)->tensor_count(), 1u);
}

}  // namespace
