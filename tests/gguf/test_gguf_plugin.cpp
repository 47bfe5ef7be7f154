// The built libtessera_gguf.so loaded with dlopen and driven through its
// descriptor's interface table only: descriptor fields, struct_size checks,
// open/close, metadata, tensor_map pointing into the mapping and tensor_read
// agreeing with it, and errors coming back as status plus message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "gguf_plugin_loader.hpp"
#include "gguf_test_writer.hpp"

namespace {

namespace fs = std::filesystem;
using namespace tessera::test::gguf;

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("tessera-gguf-plugin-" + std::to_string(::getpid())) / name;
}

tessera_value blank() {
  tessera_value v{};
  v.struct_size = sizeof v;
  return v;
}

class GgufPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
      GTEST_SKIP() << "libtessera_gguf.so is not built in " << tessera::test::build_plugin_dir();
    plugin_ = std::make_unique<LoadedPlugin>();
    writer_ = small_model();
    bytes_ = writer_.build();
    path_ = temp_file("small.gguf");
    write_file(path_, bytes_);
    tessera_error err;
    ASSERT_EQ(plugin_->open(path_, &file_, err), TESSERA_OK) << err.message;
    ASSERT_NE(file_, nullptr);
    tessera_error_init(&err_);
  }
  void TearDown() override {
    if (file_ != nullptr) f().close(file_);
    plugin_.reset();
    fs::remove_all(path_.parent_path());
  }
  const tessera_format_interface& f() const { return plugin_->format(); }

  std::unique_ptr<LoadedPlugin> plugin_;
  Writer writer_;
  Bytes bytes_;
  fs::path path_;
  tessera_model_file* file_ = nullptr;
  tessera_error err_{};
};

TEST_F(GgufPlugin, Descriptor) {
  const tessera_plugin_descriptor& d = plugin_->descriptor();
  EXPECT_EQ(d.struct_size, sizeof(tessera_plugin_descriptor));
  EXPECT_EQ(d.abi_major, TESSERA_ABI_VERSION_MAJOR);
  EXPECT_EQ(d.abi_minor, TESSERA_ABI_VERSION_MINOR);
  EXPECT_EQ(d.kinds, static_cast<uint32_t>(TESSERA_KIND_FORMAT));
  EXPECT_STREQ(d.name, "gguf");
  EXPECT_EQ(d.compute, nullptr);
  EXPECT_EQ(d.sampler, nullptr);
  EXPECT_EQ(d.kernel, nullptr);
  EXPECT_EQ(f().struct_size, sizeof(tessera_format_interface));
  // Every function of the table is implemented.
  const void* const fns[] = {
      reinterpret_cast<const void*>(f().probe),          reinterpret_cast<const void*>(f().open),
      reinterpret_cast<const void*>(f().close),          reinterpret_cast<const void*>(f().metadata_count),
      reinterpret_cast<const void*>(f().metadata_at),    reinterpret_cast<const void*>(f().metadata_find),
      reinterpret_cast<const void*>(f().metadata_array_get), reinterpret_cast<const void*>(f().tensor_count),
      reinterpret_cast<const void*>(f().tensor_info),    reinterpret_cast<const void*>(f().tensor_find),
      reinterpret_cast<const void*>(f().tensor_map),     reinterpret_cast<const void*>(f().tensor_read)};
  for (const void* fn : fns) EXPECT_NE(fn, nullptr);
  // Only the entry point is exported.
  EXPECT_EQ(::dlsym(plugin_->handle(), "_ZN7tessera4gguf10parse_ggufEPKhmSt17basic_string_viewIcSt11char_traitsIcEE"),
            nullptr);
}

TEST_F(GgufPlugin, Probe) {
  EXPECT_EQ(f().probe(plugin_->state(), path_.c_str(), bytes_.data(), bytes_.size()), 100);
  const uint8_t v1[] = {'G', 'G', 'U', 'F', 1, 0, 0, 0};
  EXPECT_GT(f().probe(plugin_->state(), "old.gguf", v1, sizeof v1), 0);  // ours, open explains the refusal
  const uint8_t other[] = {'P', 'K', 3, 4};
  EXPECT_EQ(f().probe(plugin_->state(), "x.zip", other, sizeof other), 0);
  EXPECT_EQ(f().probe(plugin_->state(), "dir", nullptr, 0), 0);
}

TEST_F(GgufPlugin, MetadataThroughTheTable) {
  ASSERT_EQ(f().metadata_count(file_), 17u);
  tessera_string_view key{};
  tessera_value v = blank();
  ASSERT_EQ(f().metadata_at(file_, 2, &key, &v, &err_), TESSERA_OK) << err_.message;
  EXPECT_EQ(std::string(key.data, key.size), "test.u8");
  EXPECT_EQ(v.type, TESSERA_VALUE_UINT8);
  EXPECT_EQ(v.as.u, 200u);
  EXPECT_EQ(f().metadata_at(file_, 17, &key, &v, &err_), TESSERA_ERR_OUT_OF_RANGE);

  v = blank();
  ASSERT_EQ(f().metadata_find(file_, "test.strings", &v, &err_), TESSERA_OK) << err_.message;
  ASSERT_EQ(v.type, TESSERA_VALUE_ARRAY);
  tessera_value e = blank();
  ASSERT_EQ(f().metadata_array_get(file_, &v, 2, &e, &err_), TESSERA_OK) << err_.message;
  EXPECT_EQ(std::string(e.as.s.data, e.as.s.size), "hello");
  EXPECT_EQ(f().metadata_array_get(file_, &v, 3, &e, &err_), TESSERA_ERR_OUT_OF_RANGE);

  v = blank();
  ASSERT_EQ(f().metadata_find(file_, "test.nested", &v, &err_), TESSERA_OK);
  tessera_value inner = blank();
  ASSERT_EQ(f().metadata_array_get(file_, &v, 0, &inner, &err_), TESSERA_OK);
  ASSERT_EQ(inner.as.array.element_type, TESSERA_VALUE_INT32);
  ASSERT_NE(inner.as.array.data, nullptr);
  int32_t second = 0;
  std::memcpy(&second, static_cast<const char*>(inner.as.array.data) + 4, 4);
  EXPECT_EQ(second, 2);

  EXPECT_EQ(f().metadata_find(file_, "no.such.key", &v, &err_), TESSERA_ERR_NOT_FOUND);
  EXPECT_NE(std::string(err_.message).find("no.such.key"), std::string::npos);
}

TEST_F(GgufPlugin, StructSizeIsChecked) {
  tessera_value v{};
  v.struct_size = 4;
  EXPECT_EQ(f().metadata_find(file_, "test.u8", &v, &err_), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err_.message).find("struct_size"), std::string::npos) << err_.message;
  tessera_tensor_info info{};
  info.struct_size = sizeof(size_t);
  EXPECT_EQ(f().tensor_info(file_, 0, &info, &err_), TESSERA_ERR_INVALID_ARGUMENT);
  // A newer caller's larger struct is filled up to our size, which struct_size reports.
  struct Bigger {
    tessera_tensor_info info;
    uint64_t future_field;
  } bigger{};
  bigger.info.struct_size = sizeof bigger;
  bigger.future_field = 77;
  ASSERT_EQ(f().tensor_info(file_, 0, &bigger.info, &err_), TESSERA_OK) << err_.message;
  EXPECT_EQ(bigger.info.struct_size, sizeof(tessera_tensor_info));
  EXPECT_EQ(bigger.future_field, 77u);
}

TEST_F(GgufPlugin, TensorMapPointsIntoTheMappingAndReadAgrees) {
  ASSERT_EQ(f().tensor_count(file_), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    tessera_tensor_info info{};
    info.struct_size = sizeof info;
    ASSERT_EQ(f().tensor_info(file_, i, &info, &err_), TESSERA_OK) << err_.message;
    EXPECT_EQ(info.struct_size, sizeof info);
    EXPECT_EQ(info.file_index, 0u);
    uint64_t found = 99;
    ASSERT_EQ(f().tensor_find(file_, info.name, &found, &err_), TESSERA_OK);
    EXPECT_EQ(found, i);
    const void* data = nullptr;
    uint64_t size = 0;
    ASSERT_EQ(f().tensor_map(file_, i, &data, &size, &err_), TESSERA_OK) << err_.message;
    ASSERT_EQ(size, info.n_bytes);
    EXPECT_EQ(info.file_offset, writer_.at("data") + (i == 0 ? 0 : i == 1 ? 288 : 576));
    // Mapped bytes are the file's bytes at file_offset.
    EXPECT_EQ(std::memcmp(data, bytes_.data() + info.file_offset, size), 0);
    std::vector<uint8_t> copy(size);
    ASSERT_EQ(f().tensor_read(file_, i, 0, copy.data(), size, &err_), TESSERA_OK) << err_.message;
    EXPECT_EQ(std::memcmp(copy.data(), data, size), 0);
    uint8_t tail[5];
    ASSERT_EQ(f().tensor_read(file_, i, size - 5, tail, 5, &err_), TESSERA_OK);
    EXPECT_EQ(std::memcmp(tail, static_cast<const uint8_t*>(data) + size - 5, 5), 0);
    EXPECT_EQ(f().tensor_read(file_, i, size - 4, tail, 5, &err_), TESSERA_ERR_OUT_OF_RANGE);
    EXPECT_EQ(f().tensor_read(file_, i, UINT64_MAX, tail, 2, &err_), TESSERA_ERR_OUT_OF_RANGE);
  }
  const void* data = nullptr;
  uint64_t size = 0;
  EXPECT_EQ(f().tensor_map(file_, 3, &data, &size, &err_), TESSERA_ERR_OUT_OF_RANGE);
  uint64_t index = 0;
  EXPECT_EQ(f().tensor_find(file_, "missing", &index, &err_), TESSERA_ERR_NOT_FOUND);
}

TEST_F(GgufPlugin, NullArgumentsAreRefusedNotCrashed) {
  EXPECT_EQ(f().metadata_count(nullptr), 0u);
  EXPECT_EQ(f().tensor_count(nullptr), 0u);
  tessera_value v = blank();
  EXPECT_EQ(f().metadata_find(nullptr, "x", &v, &err_), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f().metadata_find(file_, nullptr, &v, &err_), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f().tensor_info(file_, 0, nullptr, &err_), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f().tensor_read(file_, 0, 0, nullptr, 4, &err_), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(f().metadata_find(file_, "test.u8", &v, nullptr), TESSERA_OK);  // err may be NULL
  f().close(nullptr);
  // A host that skipped initialize passes a NULL plugin state.
  tessera_model_file* other = nullptr;
  ASSERT_EQ(f().open(nullptr, path_.c_str(), nullptr, &other, &err_), TESSERA_OK) << err_.message;
  EXPECT_EQ(f().tensor_count(other), 3u);
  f().close(other);
  EXPECT_EQ(f().open(nullptr, nullptr, nullptr, &other, &err_), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(other, nullptr);
}

TEST_F(GgufPlugin, OpenErrorsComeBackAsStatusAndMessage) {
  tessera_error err;
  tessera_model_file* bad = nullptr;
  EXPECT_EQ(plugin_->open(temp_file("absent.gguf"), &bad, err), TESSERA_ERR_IO);
  EXPECT_NE(std::string(err.message).find("absent.gguf"), std::string::npos) << err.message;
  EXPECT_EQ(bad, nullptr);

  Bytes hostile = bytes_;
  patch<uint64_t>(hostile, writer_.at("tensor.output_norm.weight.offset"), 577);
  write_file(temp_file("hostile.gguf"), hostile);
  EXPECT_EQ(plugin_->open(temp_file("hostile.gguf"), &bad, err), TESSERA_ERR_FORMAT);
  EXPECT_NE(std::string(err.message).find("hostile.gguf: tensor 'output_norm.weight': offset 577 is not a multiple of "
                                          "alignment 32"),
            std::string::npos)
      << err.message;
  EXPECT_EQ(bad, nullptr);

  EXPECT_EQ(plugin_->open(temp_file(""), &bad, err), TESSERA_ERR_IO);  // a directory
  EXPECT_NE(std::string(err.message).find("is a directory"), std::string::npos) << err.message;
}

// The host's log reaches the plugin; a NULL host (above) is fine too.
std::mutex g_log_mutex;
std::vector<std::string> g_log;
void capture(tessera_log_level, const char* plugin, const char* message) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  g_log.push_back(std::string(plugin) + ": " + message);
}
int all_enabled(tessera_log_level) { return 1; }

TEST_F(GgufPlugin, LogsThroughTheHost) {
  tessera_host_api host{};
  host.struct_size = sizeof host;
  host.abi_major = TESSERA_ABI_VERSION_MAJOR;
  host.abi_minor = TESSERA_ABI_VERSION_MINOR;
  host.log = capture;
  host.log_enabled = all_enabled;
  LoadedPlugin logged(&host);
  tessera_model_file* file = nullptr;
  tessera_error err;
  ASSERT_EQ(logged.open(path_, &file, err), TESSERA_OK) << err.message;
  logged.format().close(file);
  std::lock_guard<std::mutex> lock(g_log_mutex);
  ASSERT_FALSE(g_log.empty());
  EXPECT_NE(g_log.back().find("gguf: "), std::string::npos);
  EXPECT_NE(g_log.back().find("3 tensors"), std::string::npos) << g_log.back();
}

}  // namespace

// 64-bit offsets: a sparse file of just over 4 GiB whose one tensor lies
// past the 4 GiB mark. A reader that keeps offsets in 32 bits would map the
// wrong bytes (or refuse the file).
TEST(GgufLargeFile, TensorPastFourGiBIsMappedAndReadAtItsOffset) {
  if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
    GTEST_SKIP() << "libtessera_gguf.so is not built";
  constexpr uint64_t kFourGiB = uint64_t{1} << 32;
  Writer w;
  w.kv("general.architecture", kString, string_value("llama"));
  w.tensor({"tail.weight", {8}, kTF32});
  Bytes header = w.build();
  const uint64_t data_start = w.at("data");
  patch<uint64_t>(header, w.at("tensor.tail.weight.offset"), kFourGiB);
  header.resize(data_start);  // the tensor's bytes go to data_start + 4 GiB
  float tail[8];
  for (int i = 0; i < 8; ++i) tail[i] = 1.5f * static_cast<float>(i) - 3.0f;

  const fs::path path = temp_file("large.gguf");
  write_file(path, header);
  {
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(data_start + kFourGiB));  // sparse: no 4 GiB written
    out.write(reinterpret_cast<const char*>(tail), sizeof tail);
    ASSERT_TRUE(out.good()) << "could not write a sparse 4 GiB file in " << path.parent_path();
  }
  ASSERT_GT(fs::file_size(path), kFourGiB);

  LoadedPlugin plugin;
  tessera_model_file* file = nullptr;
  tessera_error err;
  ASSERT_EQ(plugin.open(path, &file, err), TESSERA_OK) << err.message;
  const tessera_format_interface& f = plugin.format();
  tessera_tensor_info info{};
  info.struct_size = sizeof info;
  ASSERT_EQ(f.tensor_info(file, 0, &info, &err), TESSERA_OK) << err.message;
  EXPECT_EQ(info.file_offset, data_start + kFourGiB);
  EXPECT_EQ(info.n_bytes, sizeof tail);
  const void* data = nullptr;
  uint64_t size = 0;
  ASSERT_EQ(f.tensor_map(file, 0, &data, &size, &err), TESSERA_OK) << err.message;
  ASSERT_EQ(size, sizeof tail);
  EXPECT_EQ(std::memcmp(data, tail, sizeof tail), 0);
  float copy[8] = {};
  ASSERT_EQ(f.tensor_read(file, 0, 0, copy, sizeof copy, &err), TESSERA_OK) << err.message;
  EXPECT_EQ(std::memcmp(copy, tail, sizeof tail), 0);
  f.close(file);
  fs::remove_all(path.parent_path());
}
