// Tokenizer for tokenizer.model files (Hugging Face / GPTQ directories, or to
// override a GGUF vocabulary) through the sentencepiece library.
#pragma once

#include <filesystem>
#include <memory>

#include "tessera/core/tokenizer.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tessera {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Throws tessera::Error naming the file when it cannot be loaded.
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file);
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string piece(int32_t id) const override;
  bool is_control(int32_t id) const override;
  int32_t vocab_size() const override;
  int32_t bos_id() const override;
  int32_t eos_id() const override;
  bool adds_bos() const override { return true; }
  bool adds_space_prefix() const override { return true; }
  const std::vector<std::string>& token_texts() const override { return pieces_; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::vector<std::string> pieces_;
};

}  // namespace tessera
