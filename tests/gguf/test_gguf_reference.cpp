// The real model files in data_dir()/models, read through the dlopen'ed
// plugin, compared with an independent reader: the `gguf` Python package,
// whose view dump_gguf_reference.py writes as JSON into the build tree at test
// time. Every metadata key, type and value (all array elements), and every
// tensor's name, dims, type, offset, size and data checksum must agree.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf_plugin_loader.hpp"
#include "model_files.hpp"
#include "test_data.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

uint32_t crc32(const uint8_t* p, uint64_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (uint64_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs the Python reference; returns "" on success, else why it could not.
std::string run_reference(const fs::path& model, const fs::path& out) {
  fs::create_directories(out.parent_path());
  const std::string log = out.string() + ".log";
  const std::string command = "python3 " + shell_quote(TESSERA_GGUF_REFERENCE_SCRIPT) + " --out " +
                              shell_quote(out.string()) + " " + shell_quote(model.string()) + " >" +
                              shell_quote(log) + " 2>&1";
  const int status = std::system(command.c_str());
  if (status == 0) return "";
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 3 || code == 127) return "skip: " + text;  // gguf package or python3 missing
  return "python reference failed (exit " + std::to_string(code) + "): " + text;
}

std::string as_text(const tessera_string_view& s) { return std::string(s.data, s.size); }

std::string json_text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  // {"hex": "..."}: bytes that are not UTF-8.
  const std::string hex = j.at("hex").get<std::string>();
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// Compares one scalar or string value with its JSON reference.
void expect_scalar(const tessera_value& v, const json& ref, const std::string& where) {
  switch (v.type) {
    case TESSERA_VALUE_STRING: EXPECT_EQ(as_text(v.as.s), json_text(ref)) << where; break;
    case TESSERA_VALUE_BOOL: EXPECT_EQ(v.as.b != 0, ref.get<bool>()) << where; break;
    case TESSERA_VALUE_UINT8: case TESSERA_VALUE_UINT16: case TESSERA_VALUE_UINT32: case TESSERA_VALUE_UINT64:
      EXPECT_EQ(v.as.u, ref.get<uint64_t>()) << where;
      break;
    case TESSERA_VALUE_INT8: case TESSERA_VALUE_INT16: case TESSERA_VALUE_INT32: case TESSERA_VALUE_INT64:
      EXPECT_EQ(v.as.i, ref.get<int64_t>()) << where;
      break;
    case TESSERA_VALUE_FLOAT32: case TESSERA_VALUE_FLOAT64:
      if (ref.is_object()) EXPECT_FALSE(std::isfinite(v.as.f)) << where;
      else EXPECT_EQ(v.as.f, ref.get<double>()) << where;  // float32 widens exactly
      break;
    default: ADD_FAILURE() << where << ": unexpected type " << v.type;
  }
}

class GgufReference : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufReference, MatchesThePythonGgufPackage) {
  if (GetParam().empty()) GTEST_SKIP() << "no .gguf files under " << tessera::test::data_dir() / "models";
  const fs::path model = tessera::test::data_dir() / "models" / GetParam();
  if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
    GTEST_SKIP() << "libtessera_gguf.so is not built";
  fs::path out_name = GetParam();
  const fs::path out = fs::path(TESSERA_GGUF_REFERENCE_DIR) / out_name.replace_extension(".json");
  const std::string failure = run_reference(model, out);
  if (failure.rfind("skip: ", 0) == 0) GTEST_SKIP() << failure;
  ASSERT_EQ(failure, "");
  json ref;
  {
    std::ifstream in(out);
    ref = json::parse(in);
  }

  tessera::test::gguf::LoadedPlugin plugin;
  const tessera_format_interface& f = plugin.format();
  tessera_model_file* file = nullptr;
  tessera_error err;
  ASSERT_EQ(plugin.open(model, &file, err), TESSERA_OK) << err.message;
  std::unique_ptr<tessera_model_file, void (*)(tessera_model_file*)> guard(file, f.close);

  // --- metadata, in file order ---
  const json& meta = ref.at("metadata");
  ASSERT_EQ(f.metadata_count(file), meta.size());
  for (uint64_t i = 0; i < meta.size(); ++i) {
    const json& r = meta[i];
    const std::string key = r.at("key");
    tessera_string_view k{};
    tessera_value v{};
    v.struct_size = sizeof v;
    ASSERT_EQ(f.metadata_at(file, i, &k, &v, &err), TESSERA_OK) << err.message;
    ASSERT_EQ(as_text(k), key) << "entry " << i;
    ASSERT_EQ(static_cast<int>(v.type), r.at("type").get<int>()) << key;
    tessera_value found{};
    found.struct_size = sizeof found;
    ASSERT_EQ(f.metadata_find(file, key.c_str(), &found, &err), TESSERA_OK) << err.message;
    EXPECT_EQ(found.type, v.type) << key;
    if (v.type != TESSERA_VALUE_ARRAY) {
      expect_scalar(v, r.at("value"), key);
      continue;
    }
    ASSERT_EQ(static_cast<int>(v.as.array.element_type), r.at("element_type").get<int>()) << key;
    if (r.contains("nested")) continue;  // the package flattens nested arrays
    const json& elements = r.at("elements");
    ASSERT_EQ(v.as.array.count, r.at("length").get<uint64_t>()) << key;
    ASSERT_EQ(elements.size(), v.as.array.count) << key;
    const int et = v.as.array.element_type;
    const bool numeric = et != TESSERA_VALUE_STRING && et != TESSERA_VALUE_ARRAY;
    EXPECT_EQ(v.as.array.data != nullptr, numeric) << key;
    for (uint64_t j = 0; j < v.as.array.count; ++j) {
      tessera_value e{};
      e.struct_size = sizeof e;
      ASSERT_EQ(f.metadata_array_get(file, &v, j, &e, &err), TESSERA_OK) << err.message;
      ASSERT_EQ(static_cast<int>(e.type), et);
      expect_scalar(e, elements[j], key + "[" + std::to_string(j) + "]");
      if (numeric && et == TESSERA_VALUE_FLOAT32 && !elements[j].is_object()) {
        float packed;  // the packed data pointer holds the same elements
        std::memcpy(&packed, static_cast<const char*>(v.as.array.data) + 4 * j, 4);
        EXPECT_EQ(static_cast<double>(packed), elements[j].get<double>()) << key << "[" << j << "]";
      } else if (numeric && et == TESSERA_VALUE_INT32) {
        int32_t packed;
        std::memcpy(&packed, static_cast<const char*>(v.as.array.data) + 4 * j, 4);
        EXPECT_EQ(packed, elements[j].get<int32_t>()) << key << "[" << j << "]";
      }
      if (::testing::Test::HasFailure()) return;  // one mismatch is enough to read
    }
  }

  // --- tensors ---
  const json& tensors = ref.at("tensors");
  ASSERT_EQ(f.tensor_count(file), tensors.size());
  for (uint64_t i = 0; i < tensors.size(); ++i) {
    const json& r = tensors[i];
    tessera_tensor_info info{};
    info.struct_size = sizeof info;
    ASSERT_EQ(f.tensor_info(file, i, &info, &err), TESSERA_OK) << err.message;
    const std::string name = r.at("name");
    EXPECT_EQ(std::string(info.name), name);
    const auto dims = r.at("dims").get<std::vector<uint64_t>>();
    ASSERT_EQ(info.n_dims, dims.size()) << name;
    for (size_t d = 0; d < dims.size(); ++d) EXPECT_EQ(info.dims[d], dims[d]) << name << " dims[" << d << "]";
    EXPECT_EQ(info.dtype, r.at("type").get<int>()) << name;
    EXPECT_EQ(info.file_offset, r.at("offset").get<uint64_t>()) << name;
    EXPECT_EQ(info.n_bytes, r.at("n_bytes").get<uint64_t>()) << name;
    EXPECT_EQ(info.file_index, 0u) << name;
    const void* data = nullptr;
    uint64_t size = 0;
    ASSERT_EQ(f.tensor_map(file, i, &data, &size, &err), TESSERA_OK) << err.message;
    ASSERT_EQ(size, info.n_bytes);
    EXPECT_EQ(crc32(static_cast<const uint8_t*>(data), size), r.at("crc32").get<uint32_t>()) << name;
    if (i % 7 == 0) {  // a sample: tensor_read agrees with the mapping
      std::vector<uint8_t> copy(size);
      ASSERT_EQ(f.tensor_read(file, i, 0, copy.data(), size, &err), TESSERA_OK) << err.message;
      EXPECT_EQ(std::memcmp(copy.data(), data, size), 0) << name;
    }
    uint64_t index = 0;
    ASSERT_EQ(f.tensor_find(file, name.c_str(), &index, &err), TESSERA_OK);
    EXPECT_EQ(index, i);
  }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, GgufReference, ::testing::ValuesIn(tessera::test::model_files()),
                         tessera::test::model_test_name);

}  // namespace
