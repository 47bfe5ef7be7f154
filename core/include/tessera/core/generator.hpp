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
  // Parts of generation_seconds: choosing tokens (the sampler chain, or argmax
  // without one) and evaluating the model on them, with how often each ran
  // (the first token comes from the prompt's logits, the last is not
  // evaluated, so the counts differ).
  double sampling_seconds = 0, decode_seconds = 0;
  int64_t sampling_steps = 0, decode_steps = 0;
  bool stopped_at_eos = false;

  double prompt_tokens_per_second() const;
  double generation_tokens_per_second() const;
  double sampling_seconds_per_token() const;
  double decode_seconds_per_token() const;
  // The sampler chain's cost per token over the model's decode time per
  // token (0.05: sampling adds 5%); 0 when nothing was decoded.
  double sampling_share_of_decode() const;
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
