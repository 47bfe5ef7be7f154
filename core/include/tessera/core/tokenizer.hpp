// Text <-> token ids for the SentencePiece-style vocabulary stored in GGUF
// (tokenizer.ggml.model = "llama"): score-driven bigram merges over UTF-8
// characters, byte fallback (<0xXX> tokens), optional space prefix; and a
// streaming detokenizer that never splits a UTF-8 character.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/core/model_params.hpp"

namespace tessera {

class SpmTokenizer {
 public:
  // Throws tessera::Error when the spec is not a SentencePiece ("llama")
  // vocabulary or lacks what byte fallback needs.
  explicit SpmTokenizer(TokenizerSpec spec);

  // Token ids of `text`; with add_bos (and the vocabulary's BOS id), BOS first.
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;
  // The bytes token `id` stands for ('▁' as space, byte tokens as the byte).
  std::string piece(int32_t id) const;
  // Whole-sequence decoding; drops the space prefix the encoder added.
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const { return static_cast<int32_t>(spec_.tokens.size()); }
  const TokenizerSpec& spec() const { return spec_; }
  bool is_control(int32_t id) const;

 private:
  void resegment(std::string_view symbol, std::vector<int32_t>& out) const;

  TokenizerSpec spec_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t byte_tokens_[256];
};

// Turns a stream of token pieces into text, holding back bytes of an
// incomplete UTF-8 character until the rest arrives.
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const SpmTokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Text that is complete after adding token `id` (may be empty).
  std::string push(int32_t id);
  // Whatever is left (an incomplete character comes out as is).
  std::string flush();

 private:
  const SpmTokenizer& tokenizer_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace tessera
