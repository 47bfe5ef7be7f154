// `tessera synth`, `tessera quantize` and `tessera inspect`: the files they
// write are read back by the independent `gguf` Python package (and by
// tessera's own GGUF plugin), and inspect agrees with that package.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "model_files.hpp"
#include "test_data.hpp"
#include "tessera/types.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Output {
  int status = -1;
  std::string text;
};

// Runs a shell command and captures its standard output.
Output run(const std::string& command) {
  Output out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 65536> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.text.append(buffer.data(), n);
  const int raw = ::pclose(pipe);
  out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

Output run_tessera(const std::string& args) {
  return run(std::string("TESSERA_PLUGIN_PATH= ") + q(TESSERA_CLI_PATH) + " " + args + " 2>/dev/null");
}

// The gguf package's view of a file; skips the test when it is missing.
json gguf_check(const std::string& args) {
  const Output out = run(std::string("python3 ") + q(TESSERA_GGUF_CHECK_SCRIPT) + " " + args + " 2>/dev/null");
  if (out.status == 3) throw std::runtime_error("skip: the gguf Python package is not installed (pip install gguf)");
  if (out.status != 0) throw std::runtime_error("gguf_check.py failed: " + out.text);
  return json::parse(out.text);
}

#define GGUF_CHECK_OR_SKIP(result, args)                                  \
  json result;                                                            \
  try {                                                                   \
    result = gguf_check(args);                                            \
  } catch (const std::runtime_error& e) {                                 \
    if (std::string(e.what()).rfind("skip:", 0) == 0) GTEST_SKIP() << e.what(); \
    FAIL() << e.what();                                                   \
  }

bool gguf_plugin_built() { return fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"); }

class ModelTools : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("tessera-tools-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

}  // namespace

// The stories260K shape (embedding 64, 5 layers, 8 heads / 4 KV heads,
// feed-forward 172, vocabulary 512) as the llama GGUF layout names it.
TEST_F(ModelTools, SynthWritesTheNamedShapeInTheGgufLayout) {
  const Output out = run_tessera("synth --shape stories260k --type Q8_0 --seed 7 -o " + q(dir / "s.gguf"));
  ASSERT_EQ(out.status, 0) << out.text;
  GGUF_CHECK_OR_SKIP(doc, "dump " + q(dir / "s.gguf"));
  EXPECT_EQ(doc["metadata"]["general.architecture"], "llama");
  EXPECT_EQ(doc["metadata"]["llama.embedding_length"], 64);
  EXPECT_EQ(doc["metadata"]["llama.block_count"], 5);
  EXPECT_EQ(doc["metadata"]["llama.attention.head_count_kv"], 4);
  EXPECT_EQ(doc["metadata"]["tokenizer.ggml.tokens"]["array_length"], 512);
  ASSERT_EQ(doc["tensors"].size(), 3u + 5u * 9u);
  std::map<std::string, json> by_name;
  for (const auto& t : doc["tensors"]) by_name[t["name"]] = t;
  EXPECT_EQ(by_name["token_embd.weight"]["type"], "Q8_0");
  EXPECT_EQ(by_name["blk.4.attn_k.weight"]["type"], "Q8_0");
  EXPECT_EQ(by_name["blk.4.attn_norm.weight"]["type"], "F32");
  EXPECT_EQ(by_name["blk.2.ffn_down.weight"]["type"], "F16");  // rows of 172 fit no 32-block
  // gguf reports shapes with dims[0] first; K and V project 64 -> 4 heads * 8.
  EXPECT_EQ(by_name["blk.0.attn_k.weight"]["shape"], json({64, 32}));
  EXPECT_EQ(by_name["blk.0.ffn_down.weight"]["shape"], json({172, 64}));
  EXPECT_EQ(by_name["output.weight"]["shape"], json({64, 512}));
}

TEST_F(ModelTools, SynthIsDeterministicPerSeed) {
  ASSERT_EQ(run_tessera("synth --shape stories260k --type Q4_0 --seed 1 -o " + q(dir / "a.gguf")).status, 0);
  ASSERT_EQ(run_tessera("synth --shape stories260k --type Q4_0 --seed 1 -o " + q(dir / "b.gguf")).status, 0);
  ASSERT_EQ(run_tessera("synth --shape stories260k --type Q4_0 --seed 2 -o " + q(dir / "c.gguf")).status, 0);
  EXPECT_EQ(run("cmp -s " + q(dir / "a.gguf") + " " + q(dir / "b.gguf")).status, 0);
  EXPECT_NE(run("cmp -s " + q(dir / "a.gguf") + " " + q(dir / "c.gguf")).status, 0);
}

TEST_F(ModelTools, UnknownShapeAndTypeAreClearErrors) {
  const Output shape = run(q(TESSERA_CLI_PATH) + " synth --shape llama2-7 --type Q4_0 -o x.gguf 2>&1");
  EXPECT_EQ(shape.status, 1);
  EXPECT_NE(shape.text.find("unknown model shape 'llama2-7' (did you mean 'llama2-7b'?)"), std::string::npos)
      << shape.text;
  const Output type = run(q(TESSERA_CLI_PATH) + " synth --shape llama2-7b --type Q4_9 -o x.gguf 2>&1");
  EXPECT_EQ(type.status, 1);
  EXPECT_NE(type.text.find("unknown quantization type 'Q4_9'"), std::string::npos) << type.text;
}

// Quantizing the F32 wide256 model: every weight decodes (by the gguf
// package) close to the original F32 weight.
TEST_F(ModelTools, QuantizedWeightsStayCloseToTheOriginal) {
  if (!gguf_plugin_built()) GTEST_SKIP() << "the gguf format plugin is not built";
  const fs::path input = tessera::test::data_dir() / "models/stories260K-wide256/stories260K-wide256-F32.gguf";
  if (!fs::exists(input)) GTEST_SKIP() << input << " is missing (set TESSERA_TEST_DATA)";
  const std::map<std::string, double> bound{{"Q8_0", 0.01}, {"Q6_K", 0.03}, {"Q4_K", 0.12}, {"IQ4_XS", 0.12},
                                            {"Q2_K", 0.45}};
  for (const auto& [type, limit] : bound) {
    const fs::path output = dir / (type + ".gguf");
    const Output out = run_tessera("quantize " + q(input) + " " + q(output) + " --type " + type);
    ASSERT_EQ(out.status, 0) << out.text;
    GGUF_CHECK_OR_SKIP(errors, "compare " + q(input) + " " + q(output));
    std::size_t converted = 0;
    for (const auto& [name, e] : errors.items()) {
      const double rmse = e["relative_rmse"];
      if (e["type"] == type) ++converted;
      const double allowed = e["type"] == "F32" ? 0.0 : e["type"] == "Q8_0" ? 0.01 : limit;
      EXPECT_LE(rmse, allowed) << type << " " << name << " (" << e["type"] << ")";
    }
    EXPECT_GE(converted, 5u * 7u) << type;  // every 256-wide projection of the 5 layers
    // And tessera reads its own output.
    EXPECT_EQ(run_tessera("inspect --json " + q(output)).status, 0) << type;
  }
}

TEST_F(ModelTools, InspectAgreesWithTheGgufPackage) {
  if (!gguf_plugin_built()) GTEST_SKIP() << "the gguf format plugin is not built";
  const fs::path model = tessera::test::data_dir() / "models/stories260K-quants/stories260K-Q4_K_M.gguf";
  if (!fs::exists(model)) GTEST_SKIP() << model << " is missing (set TESSERA_TEST_DATA)";
  const Output out = run_tessera("inspect --json --ctx 1024 --kv-type q8_0 " + q(model));
  ASSERT_EQ(out.status, 0) << out.text;
  const json mine = json::parse(out.text);
  GGUF_CHECK_OR_SKIP(reference, "dump " + q(model));
  ASSERT_EQ(mine["tensors"].size(), reference["tensors"].size());
  uint64_t parameters = 0, bytes = 0;
  for (std::size_t i = 0; i < reference["tensors"].size(); ++i) {
    const auto& r = reference["tensors"][i];
    EXPECT_EQ(mine["tensors"][i]["name"], r["name"]);
    EXPECT_EQ(mine["tensors"][i]["type"], r["type"]);
    EXPECT_EQ(mine["tensors"][i]["shape"], r["shape"]);
    EXPECT_EQ(mine["tensors"][i]["bytes"], r["bytes"]);
    uint64_t n = 1;
    for (const auto& d : r["shape"]) n *= d.get<uint64_t>();
    parameters += n;
    bytes += r["bytes"].get<uint64_t>();
  }
  EXPECT_EQ(mine["parameters"], parameters);
  EXPECT_EQ(mine["architecture"], "llama");
  // KV cache: K and V x layers x context x (kv heads x head dim) x 34/32 bytes.
  const uint64_t layers = reference["metadata"]["llama.block_count"];
  const uint64_t kv_width = reference["metadata"]["llama.attention.head_count_kv"].get<uint64_t>() *
                            (reference["metadata"]["llama.embedding_length"].get<uint64_t>() /
                             reference["metadata"]["llama.attention.head_count"].get<uint64_t>());
  EXPECT_EQ(mine["memory"]["kv_cache_bytes"], 2 * layers * 1024 * kv_width * 34 / 32);
  EXPECT_EQ(mine["memory"]["weights_bytes"], bytes);
}

// `inspect --json` on every shared model against the gguf package's reading
// of the same file: the tensor table, the llama.* hyper-parameters, the
// tokenizer, and every metadata key with its type (integers, among them all
// token ids, and array lengths by value).
class InspectEveryModel : public ::testing::TestWithParam<std::string> {};

TEST_P(InspectEveryModel, AgreesWithTheGgufPackage) {
  if (GetParam().empty())
    GTEST_SKIP() << "no *.gguf under " << tessera::test::data_dir() / "models" << " (set TESSERA_TEST_DATA)";
  if (!gguf_plugin_built()) GTEST_SKIP() << "the gguf format plugin is not built";
  const fs::path model = tessera::test::data_dir() / "models" / GetParam();
  const Output out = run_tessera("inspect --json " + q(model));
  ASSERT_EQ(out.status, 0) << out.text;
  const json mine = json::parse(out.text);
  GGUF_CHECK_OR_SKIP(reference, "dump " + q(model));
  const json& meta = reference["metadata"];

  // Tensors, in file order.
  ASSERT_EQ(mine["tensors"].size(), reference["tensors"].size());
  uint64_t parameters = 0, bytes = 0;
  for (std::size_t i = 0; i < reference["tensors"].size(); ++i) {
    const auto& r = reference["tensors"][i];
    const auto& t = mine["tensors"][i];
    EXPECT_EQ(t["name"], r["name"]) << i;
    EXPECT_EQ(t["type"], r["type"]) << r["name"];
    EXPECT_EQ(t["shape"], r["shape"]) << r["name"];
    EXPECT_EQ(t["bytes"], r["bytes"]) << r["name"];
    uint64_t n = 1;
    for (const auto& d : r["shape"]) n *= d.get<uint64_t>();
    parameters += n;
    bytes += r["bytes"].get<uint64_t>();
  }
  EXPECT_EQ(mine["parameters"], parameters);
  EXPECT_EQ(mine["memory"]["weights_bytes"], bytes);

  // The architecture's hyper-parameter block: present in inspect exactly
  // where the file has the key, with the file's value.
  const std::string arch = meta.value("general.architecture", std::string("unknown"));
  EXPECT_EQ(mine["architecture"], arch);
  const json& hp = mine["hyperparameters"];
  for (const char* key : {"context_length", "embedding_length", "block_count", "feed_forward_length",
                          "attention.head_count", "attention.head_count_kv", "rope.dimension_count"}) {
    const std::string full = arch + "." + key;
    if (!meta.contains(full)) {
      EXPECT_FALSE(hp.contains(key)) << key;
      continue;
    }
    ASSERT_TRUE(hp.contains(key)) << full << " is in the file";
    EXPECT_EQ(hp[key].get<int64_t>(), meta[full].get<int64_t>()) << full;
  }
  for (const char* key : {"rope.freq_base", "attention.layer_norm_rms_epsilon", "rope.scaling.factor"}) {
    const std::string full = arch + "." + key;
    if (!meta.contains(full)) {
      EXPECT_FALSE(hp.contains(key)) << key;
      continue;
    }
    ASSERT_TRUE(hp.contains(key)) << full << " is in the file";
    EXPECT_DOUBLE_EQ(hp[key].get<double>(), meta[full].get<double>()) << full;
  }
  if (arch == "llama") {  // every shared model states its shape
    EXPECT_TRUE(hp.contains("block_count")) << hp;
    EXPECT_TRUE(hp.contains("attention.layer_norm_rms_epsilon")) << hp;
  }

  // The tokenizer summary.
  if (meta.contains("tokenizer.ggml.tokens")) {
    ASSERT_TRUE(mine.contains("tokenizer"));
    const json& tok = mine["tokenizer"];
    EXPECT_EQ(tok["tokens"], meta["tokenizer.ggml.tokens"]["array_length"]);
    EXPECT_EQ(tok["model"], meta.value("tokenizer.ggml.model", std::string()));
    for (const char* id : {"bos_token_id", "eos_token_id"}) {
      const std::string full = std::string("tokenizer.ggml.") + id;
      EXPECT_EQ(tok[id].get<int64_t>(), meta.contains(full) ? meta[full].get<int64_t>() : -1) << full;
    }
  } else {
    EXPECT_FALSE(mine.contains("tokenizer"));
  }

  // Every metadata key, nothing more, each with the file's value type.
  std::map<std::string, json> listed;
  for (const auto& m : mine["metadata"]) listed[m["key"].get<std::string>()] = m;
  const json& types = reference["metadata_types"];
  EXPECT_EQ(listed.size(), types.size());
  for (const auto& [key, type] : types.items()) {
    const auto it = listed.find(key);
    if (it == listed.end()) {
      ADD_FAILURE() << key << " is missing from inspect's metadata";
      continue;
    }
    const json& m = it->second;
    EXPECT_EQ(m["type"], type["type"]) << key;
    const std::string t = type["type"];
    if (t == "array") {
      EXPECT_EQ(m["value"], "[" + std::to_string(meta[key]["array_length"].get<uint64_t>()) + " x " +
                                type["element_type"].get<std::string>() + "]")
          << key;
    } else if (t == "bool" || (t != "string" && t.rfind("float", 0) != 0)) {
      EXPECT_EQ(m["value"], meta[key].dump()) << key;  // integers print alike in JSON and in inspect
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, InspectEveryModel, ::testing::ValuesIn(tessera::test::model_files()),
                         tessera::test::model_test_name);
