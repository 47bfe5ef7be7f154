// The generation loop: tokenize the prompt, process it in batches, then
// decode token by token through the sampler chain, streaming text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera {

class LlamaRuntime;
class Tokenizer;
class SamplerChain;

struct GenerationSettings {
  int64_t max_tokens = 128;
  bool stop_at_eos = true;
  bool context_shift = false;  // when the context is full: drop old tokens and go on
};

struct GenerationResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> generated_ids;
  std::string text;
  double prompt_seconds = 0, generation_seconds = 0;
  bool stopped_at_eos = false;

  double prompt_tokens_per_second() const;
  double generation_tokens_per_second() const;
};

class Generator {
 public:
  // `sampler` may be NULL: greedy (argmax) decoding.
  Generator(LlamaRuntime& runtime, const Tokenizer& tokenizer, SamplerChain* sampler)
      : runtime_(runtime), tokenizer_(tokenizer), sampler_(sampler) {}

  // `on_text` receives text as soon as whole UTF-8 characters are available.
  GenerationResult generate(const std::string& prompt, const GenerationSettings& settings,
                            const std::function<void(const std::string&)>& on_text = {});

 private:
  int32_t pick(const std::vector<float>& logits);
  // Keeps the first token (BOS) and the newer half of the rest, re-evaluated.
  void shift_context(std::vector<int32_t>& history);

  LlamaRuntime& runtime_;
  const Tokenizer& tokenizer_;
  SamplerChain* sampler_;
};

}  // namespace tessera
