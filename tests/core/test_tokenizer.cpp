// The GGUF SentencePiece tokenizer reproduces llama.cpp's tokenization on
// its own test vectors (shared/models/vocab/ggml-vocab-llama-spm.gguf.inp /
// .out, ids without BOS), and detokenization streams whole UTF-8 characters.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_data.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/model_params.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/sentencepiece_tokenizer.hpp"
#include "tessera/core/tokenizer.hpp"

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + separator.size())
    parts.push_back(text.substr(start, at - start));
  parts.push_back(text.substr(start));
  return parts;
}

class Tokenizer : public ::testing::Test {
 protected:
  // Loads a vocabulary through the GGUF plugin, or skips.
  std::unique_ptr<tessera::SpmTokenizer> load(const fs::path& model_path) {
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so")) {
      skip_reason = "the gguf format plugin is not built";
      return nullptr;
    }
    if (!fs::exists(model_path)) {
      skip_reason = model_path.string() + " is missing (set TESSERA_TEST_DATA)";
      return nullptr;
    }
    registry.discover({tessera::test::build_plugin_dir()});
    const tessera::ModelFile model(model_path, registry);
    return std::make_unique<tessera::SpmTokenizer>(tessera::read_tokenizer(model));
  }
  tessera::PluginRegistry registry;
  std::string skip_reason;
};

}  // namespace

TEST_F(Tokenizer, ReproducesLlamaCppTestVectors) {
  const fs::path vocab = tessera::test::data_dir() / "models/vocab/ggml-vocab-llama-spm.gguf";
  auto tokenizer = load(vocab);
  if (!tokenizer) GTEST_SKIP() << skip_reason;
  const auto inputs = split(read_text(vocab.string() + ".inp"), "\n__ggml_vocab_test__\n");
  auto expected_lines = split(read_text(vocab.string() + ".out"), "\n");
  ASSERT_GE(expected_lines.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int32_t> expected;
    std::istringstream line(expected_lines[i]);
    for (int32_t id; line >> id;) expected.push_back(id);
    EXPECT_EQ(tokenizer->encode(inputs[i], false), expected) << "input #" << i << ": '" << inputs[i] << "'";
    // SentencePiece with byte fallback is lossless.
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(inputs[i], false)), inputs[i]) << "input #" << i;
  }
}

TEST_F(Tokenizer, StoriesPromptMatchesTheReferenceRun) {
  auto tokenizer = load(tessera::test::data_dir() / "models/stories260K.gguf");
  if (!tokenizer) GTEST_SKIP() << skip_reason;
  // refs-public: prompt ids [1, 403, 407, 261, 378] for "Once upon a time".
  EXPECT_EQ(tokenizer->encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tokenizer->decode({1, 403, 407, 261, 378}), "Once upon a time");
}

TEST_F(Tokenizer, StreamingNeverSplitsAUtf8Character) {
  auto tokenizer = load(tessera::test::data_dir() / "models/stories260K.gguf");
  if (!tokenizer) GTEST_SKIP() << skip_reason;
  // A 512-token vocabulary has no pieces for these: they fall back to bytes.
  const std::string text = "Grüße, 世界 🙂!";
  const auto ids = tokenizer->encode(text, false);
  ASSERT_GT(ids.size(), text.size() / 2);
  tessera::StreamingDetokenizer stream(*tokenizer);
  std::string joined;
  for (int32_t id : ids) {
    const std::string chunk = stream.push(id);
    // Every chunk is whole characters: no chunk ends inside one.
    std::size_t i = 0;
    while (i < chunk.size()) {
      const unsigned char c = static_cast<unsigned char>(chunk[i]);
      const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      ASSERT_LE(i + n, chunk.size()) << "chunk splits a character";
      i += n;
    }
    joined += chunk;
  }
  joined += stream.flush();
  EXPECT_EQ(joined, text);
}

// Generated text continues the prompt: the first piece keeps its space, as
// llama.cpp prints it; decoding from the start drops the encoder's prefix.
TEST_F(Tokenizer, StreamingContinuationKeepsTheFirstSpace) {
  auto tokenizer = load(tessera::test::data_dir() / "models/stories260K.gguf");
  if (!tokenizer) GTEST_SKIP() << skip_reason;
  const auto ids = tokenizer->encode("Once upon a time", false);  // ▁Once ▁upon ▁a ▁time
  ASSERT_EQ(ids.size(), 4u);
  tessera::StreamingDetokenizer continuation(*tokenizer, /*continues_text=*/true);
  std::string text;
  for (std::size_t i = 1; i < ids.size(); ++i) text += continuation.push(ids[i]);
  EXPECT_EQ(text + continuation.flush(), " upon a time");
  tessera::StreamingDetokenizer start(*tokenizer);
  text.clear();
  for (int32_t id : ids) text += start.push(id);
  EXPECT_EQ(text + start.flush(), "Once upon a time");
}

// tokenizer.model through the sentencepiece library: LLaMA's own model
// reproduces llama.cpp's vectors, and tok512.model tokenizes like the GGUF
// vocabulary of stories260K it was built from.
TEST_F(Tokenizer, SentencePieceModelReproducesLlamaCppTestVectors) {
  const fs::path vocab = tessera::test::data_dir() / "models/vocab/ggml-vocab-llama-spm.gguf";
  const fs::path model = tessera::test::data_dir() / "models/tokenizer.model";
  if (!fs::exists(model)) GTEST_SKIP() << model << " is missing (set TESSERA_TEST_DATA)";
  const tessera::SentencePieceTokenizer sp(model);
  EXPECT_EQ(sp.vocab_size(), 32000);
  const auto inputs = split(read_text(vocab.string() + ".inp"), "\n__ggml_vocab_test__\n");
  auto expected_lines = split(read_text(vocab.string() + ".out"), "\n");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int32_t> expected;
    std::istringstream line(expected_lines[i]);
    for (int32_t id; line >> id;) expected.push_back(id);
    EXPECT_EQ(sp.encode(inputs[i], false), expected) << "input #" << i << ": '" << inputs[i] << "'";
    EXPECT_EQ(sp.decode(sp.encode(inputs[i], false)), inputs[i]) << "input #" << i;
  }
}

TEST_F(Tokenizer, SentencePieceAndGgufVocabulariesAgree) {
  auto gguf = load(tessera::test::data_dir() / "models/stories260K.gguf");
  if (!gguf) GTEST_SKIP() << skip_reason;
  const tessera::SentencePieceTokenizer sp(tessera::test::data_dir() / "models/tok512.model");
  ASSERT_EQ(sp.vocab_size(), gguf->vocab_size());
  const auto inputs = split(read_text(tessera::test::data_dir() / "models/vocab/ggml-vocab-llama-spm.gguf.inp"),
                            "\n__ggml_vocab_test__\n");
  for (const auto& text : inputs) EXPECT_EQ(sp.encode(text, true), gguf->encode(text, true)) << "'" << text << "'";
  EXPECT_EQ(sp.encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
}

TEST(SentencePieceFile, NotAModelIsAClearError) {
  const fs::path bogus = fs::temp_directory_path() / "tessera-not-a-tokenizer.model";
  std::ofstream(bogus) << "hello";
  try {
    tessera::SentencePieceTokenizer sp(bogus);
    FAIL() << "loaded a bogus file";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a SentencePiece model"), std::string::npos) << e.what();
  }
  fs::remove(bogus);
}
