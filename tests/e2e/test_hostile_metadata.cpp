// Hostile GGUF metadata on a real model: stories260K rewritten with one key
// set to a wrong value (zero, negative, huge, inconsistent with the tensors,
// NaN, the wrong type) must either load and generate or be refused with a
// tessera::Error of a format-level status. A crash, a sanitizer report (the
// ASan build runs this too) or another exception fails. Values the model
// cannot be right with must be refused, and the error must name the file
// (the messages name the key or the tensor too; the sweep prints them as the
// "error" property).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "test_data.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/gguf_writer.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;
using tessera::MetadataValue;

namespace {

struct Mutation {
  std::string key;
  std::optional<MetadataValue> value;  // nullopt: the key is removed
  bool must_refuse;                    // the model cannot be right with it
  std::string label;
};

void PrintTo(const Mutation& m, std::ostream* os) { *os << m.key << " = " << m.label; }

MetadataValue i64(int64_t v) { return {TESSERA_VALUE_INT64, v, {}}; }
MetadataValue f64(double v) { return {TESSERA_VALUE_FLOAT64, v, {}}; }

std::vector<Mutation> mutations() {
  std::vector<Mutation> m;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto add = [&](const std::string& key, std::optional<MetadataValue> v, bool refuse, const std::string& label) {
    m.push_back({key, std::move(v), refuse, label});
  };
  for (const char* key : {"llama.embedding_length", "llama.feed_forward_length", "llama.attention.head_count",
                          "llama.block_count", "llama.context_length"}) {
    add(key, i64(0), true, "0");
    add(key, i64(-1), true, "-1");
    add(key, MetadataValue::u64(~0ull), true, "u64 max");
    add(key, MetadataValue::string("64"), true, "a string");
    add(key, std::nullopt, true, "missing");
  }
  add("llama.embedding_length", MetadataValue::u32(128), true, "128 (tensors are 64)");
  add("llama.embedding_length", MetadataValue::u32(1ull << 31), true, "2^31");
  add("llama.feed_forward_length", MetadataValue::u32(171), true, "171 (tensors are 172)");
  add("llama.feed_forward_length", MetadataValue::u64(1ull << 40), true, "2^40");
  add("llama.attention.head_count", MetadataValue::u32(3), true, "3 (does not divide 64)");
  add("llama.attention.head_count", MetadataValue::u32(16), true, "16 (q/k tensors made for 8)");
  add("llama.attention.head_count", MetadataValue::u32(128), true, "128 (more heads than dimensions)");
  add("llama.attention.head_count_kv", MetadataValue::u32(0), true, "0");
  add("llama.attention.head_count_kv", MetadataValue::u32(3), true, "3");
  add("llama.attention.head_count_kv", MetadataValue::u32(2), true, "2 (k/v tensors made for 4)");
  add("llama.attention.head_count_kv", MetadataValue::u32(16), true, "16 (more than heads)");
  add("llama.block_count", MetadataValue::u32(6), true, "6 (5 layers stored)");
  add("llama.block_count", MetadataValue::u32(1u << 31), true, "2^31");
  add("llama.block_count", MetadataValue::u32(3), false, "3 (fewer than stored)");
  add("llama.context_length", MetadataValue::u32(1), false, "1");
  add("llama.context_length", MetadataValue::u64(1ull << 62), false, "2^62");
  add("llama.rope.dimension_count", MetadataValue::u32(0), true, "0");
  add("llama.rope.dimension_count", MetadataValue::u32(3), true, "3 (odd)");
  add("llama.rope.dimension_count", MetadataValue::u32(10), true, "10 (above the head dimension 8)");
  add("llama.rope.freq_base", f64(0), true, "0");
  add("llama.rope.freq_base", f64(-10000), true, "-10000");
  add("llama.rope.freq_base", f64(nan), true, "NaN");
  add("llama.rope.freq_base", f64(inf), true, "inf");
  add("llama.rope.scaling.type", MetadataValue::string("yarn"), true, "yarn");
  add("llama.rope.scaling.type", MetadataValue::string("linear"), false, "linear without a factor");
  add("llama.rope.scaling.factor", f64(inf), false, "inf without a scaling type (not read)");
  add("llama.attention.layer_norm_rms_epsilon", f64(-1), true, "-1");
  add("llama.attention.layer_norm_rms_epsilon", f64(nan), true, "NaN");
  add("llama.attention.layer_norm_rms_epsilon", f64(inf), true, "inf");
  add("llama.vocab_size", MetadataValue::u32(0), true, "0");
  add("llama.vocab_size", MetadataValue::u32(511), true, "511 (tensors are 512)");
  add("llama.vocab_size", MetadataValue::u32(513), true, "513 (tensors are 512)");
  add("llama.vocab_size", MetadataValue::u64(1ull << 40), true, "2^40");
  add("general.architecture", MetadataValue::string("gpt2"), true, "gpt2");
  add("general.architecture", MetadataValue::u32(1), true, "a number");
  add("general.architecture", std::nullopt, true, "missing");
  add("tokenizer.ggml.model", MetadataValue::string("bert"), true, "bert");
  add("tokenizer.ggml.model", MetadataValue::string("gpt2"), true, "gpt2 without merges");
  add("tokenizer.ggml.tokens", MetadataValue::array(TESSERA_VALUE_STRING, {}), true, "empty");
  add("tokenizer.ggml.tokens", MetadataValue::array(TESSERA_VALUE_STRING, {MetadataValue::string("a")}), true,
      "one token");
  add("tokenizer.ggml.scores", MetadataValue::array(TESSERA_VALUE_FLOAT32, {MetadataValue::f32(0)}), true,
      "one score");
  add("tokenizer.ggml.token_type", MetadataValue::array(TESSERA_VALUE_INT32, {MetadataValue::i32(1)}), true,
      "one type");
  add("tokenizer.ggml.bos_token_id", MetadataValue::u32(512), true, "512 (512 tokens)");
  add("tokenizer.ggml.eos_token_id", MetadataValue::u64(1ull << 40), true, "2^40");
  add("tokenizer.ggml.bos_token_id", MetadataValue::u32(0xFFFFFFFFu), false, "uint32 -1 (no token)");
  return m;
}

class HostileMetadata : public ::testing::TestWithParam<Mutation> {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("tessera-hostile-metadata-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
      GTEST_SKIP() << "the gguf format plugin is not built";
    source_ = tessera::test::data_dir() / "models/stories260K.gguf";
    if (!fs::exists(source_)) GTEST_SKIP() << "shared models are missing (set TESSERA_TEST_DATA)";
    registry_.discover({tessera::test::build_plugin_dir()});
  }

  // stories260K with the mutation applied, every tensor as stored.
  fs::path write_mutated(const Mutation& mutation) {
    const tessera::ModelFile source(source_, registry_);
    tessera::GgufWriter writer;
    for (const auto& [key, value] : source.metadata())
      if (key != mutation.key && key != "general.alignment") writer.set(key, value);
    if (mutation.value) writer.set(mutation.key, *mutation.value);
    for (const auto& t : source.tensors()) writer.add_tensor(t.name, t.dtype, t.dims);
    const fs::path out = dir_ / "model.gguf";
    writer.begin(out);
    for (std::size_t i = 0; i < source.tensors().size(); ++i) {
      const auto bytes = source.read_tensor(i);
      writer.write(bytes.data(), bytes.size());
    }
    writer.finish();
    return out;
  }

  static fs::path dir_;
  fs::path source_;
  tessera::PluginRegistry registry_;
};

fs::path HostileMetadata::dir_;

TEST_P(HostileMetadata, LoadsAndRunsOrIsRefusedNamingTheFile) {
  const Mutation& mutation = GetParam();
  const fs::path model = write_mutated(mutation);
  const fs::path pipeline_file = dir_ / "pipeline.yaml";
  std::ofstream(pipeline_file) << "model: { path: \"" << model.string()
                               << "\" }\ncompute: [ { backend: cpu, threads: 1 } ]\ncontext: { size: 32, batch: 8 }\n";
  auto loaded = tessera::load_pipeline(pipeline_file, registry_, {tessera::test::build_plugin_dir()});
  ASSERT_TRUE(loaded.pipeline) << loaded.diagnostics.to_string();
  try {
    tessera::Session session(*loaded.pipeline, registry_);
    std::vector<int32_t> tokens = session.tokenizer().encode("Once upon a time", true);
    ASSERT_FALSE(tokens.empty());
    const std::vector<float> logits = session.runtime().evaluate(tokens, false);
    ASSERT_FALSE(logits.empty());
    for (float v : logits) ASSERT_TRUE(std::isfinite(v)) << "a logit is not finite";
    EXPECT_FALSE(mutation.must_refuse) << "'" << mutation.key << "' = " << mutation.label
                                       << " was accepted; the model cannot be right with it";
  } catch (const tessera::Error& e) {
    const std::string message = e.what();
    EXPECT_TRUE(e.code() == TESSERA_ERR_FORMAT || e.code() == TESSERA_ERR_UNSUPPORTED ||
                e.code() == TESSERA_ERR_OUT_OF_MEMORY || e.code() == TESSERA_ERR_INVALID_ARGUMENT)
        << "status " << e.code() << ": " << message;
    if (mutation.must_refuse) {
      EXPECT_NE(message.find(model.string()), std::string::npos) << "the error does not name the file: " << message;
      RecordProperty("error", message);
    } else {
      ADD_FAILURE() << "'" << mutation.key << "' = " << mutation.label << " is valid but was refused: " << message;
    }
  }
}

std::string mutation_name(const ::testing::TestParamInfo<Mutation>& info) {
  std::string s = info.param.key + "_" + info.param.label;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Stories260K, HostileMetadata, ::testing::ValuesIn(mutations()), mutation_name);

}  // namespace
