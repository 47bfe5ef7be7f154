// Tokenizers. SpmTokenizer reads the SentencePiece-style vocabulary stored in
// GGUF (tokenizer.ggml.model = "llama"): score-driven bigram merges over
// UTF-8 characters, byte fallback (<0xXX> tokens), optional space prefix.
// StreamingDetokenizer never splits a UTF-8 character.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/core/model_params.hpp"

namespace tessera {

// Text <-> token ids. Implementations: the SentencePiece-style vocabulary in
// GGUF metadata (SpmTokenizer) and tokenizer.model files through the
// sentencepiece library (SentencePieceTokenizer).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids of `text`; with add_bos (and a BOS id), BOS first.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
  // The bytes token `id` stands for ('▁' as space, byte tokens as the byte,
  // control tokens as nothing).
  virtual std::string piece(int32_t id) const = 0;
  virtual bool is_control(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;
  virtual bool adds_bos() const = 0;          // whether prompts start with BOS
  virtual bool adds_space_prefix() const = 0; // whether encode() put a space in front
  // The vocabulary as stored ("<0x0A>", "▁the"); samplers get piece() texts.
  virtual const std::vector<std::string>& token_texts() const = 0;

  // Whole-sequence decoding; drops the space prefix the encoder added.
  std::string decode(const std::vector<int32_t>& ids) const;
};

class SpmTokenizer : public Tokenizer {
 public:
  // Throws tessera::Error when the spec is not a SentencePiece ("llama")
  // vocabulary.
  explicit SpmTokenizer(TokenizerSpec spec);

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string piece(int32_t id) const override;
  bool is_control(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  int32_t bos_id() const override { return spec_.bos_id; }
  int32_t eos_id() const override { return spec_.eos_id; }
  bool adds_bos() const override { return spec_.add_bos; }
  bool adds_space_prefix() const override { return spec_.add_space_prefix; }
  const std::vector<std::string>& token_texts() const override { return spec_.tokens; }
  const TokenizerSpec& spec() const { return spec_; }

 private:
  void resegment(std::string_view symbol, std::vector<int32_t>& out) const;

  TokenizerSpec spec_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t byte_tokens_[256];
};

// The text of a SentencePiece piece: '▁' becomes a space and a byte token
// "<0xAB>" (when `is_byte`) the byte itself.
std::string piece_text(const std::string& piece, bool is_byte);

// Turns a stream of token pieces into text, holding back bytes of an
// incomplete UTF-8 character until the rest arrives.
class StreamingDetokenizer {
 public:
  // `continues_text`: the tokens follow text already shown (a prompt), so the
  // first piece keeps its space ("Once" + "▁upon" -> "Once upon"); otherwise
  // they start the text and the encoder's space prefix is taken off.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool continues_text = false)
      : tokenizer_(tokenizer), first_(!continues_text) {}
  // Text that is complete after adding token `id` (may be empty).
  std::string push(int32_t id);
  // Whatever is left (an incomplete character comes out as is).
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
  bool first_;
};

}  // namespace tessera
