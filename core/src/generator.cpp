#include "tessera/core/generator.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/log.hpp"
#include "tessera/core/sampler_chain.hpp"
#include "tessera/core/tokenizer.hpp"

namespace tessera {

double GenerationResult::prompt_tokens_per_second() const {
  return prompt_seconds > 0 ? static_cast<double>(prompt_ids.size()) / prompt_seconds : 0.0;
}

double GenerationResult::generation_tokens_per_second() const {
  return generation_seconds > 0 ? static_cast<double>(generated_ids.size()) / generation_seconds : 0.0;
}

double GenerationResult::sampling_seconds_per_token() const {
  return sampling_steps > 0 ? sampling_seconds / static_cast<double>(sampling_steps) : 0.0;
}

double GenerationResult::decode_seconds_per_token() const {
  return decode_steps > 0 ? decode_seconds / static_cast<double>(decode_steps) : 0.0;
}

double GenerationResult::sampling_share_of_decode() const {
  const double decode = decode_seconds_per_token();
  return decode > 0 ? sampling_seconds_per_token() / decode : 0.0;
}

int32_t Generator::pick(const std::vector<float>& logits) {
  if (sampler_ != nullptr) return sampler_->sample(logits);
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

void Generator::shift_context(std::vector<int32_t>& history) {
  const std::size_t keep = 1;
  const std::size_t discard = (history.size() - keep) / 2;
  history.erase(history.begin() + static_cast<std::ptrdiff_t>(keep),
                history.begin() + static_cast<std::ptrdiff_t>(keep + discard));
  logger()->info("context full: dropped {} old tokens, re-evaluating {}", discard, history.size());
  runtime_.reset();
  runtime_.evaluate(std::span<const int32_t>(history.data(), history.size() - 1));
}

GenerationResult Generator::generate(const std::string& prompt, const GenerationSettings& settings,
                                     const std::function<void(const std::string&)>& on_text) {
  using clock = std::chrono::steady_clock;
  GenerationResult result;
  result.prompt_ids = tokenizer_.encode(prompt, tokenizer_.adds_bos());
  if (result.prompt_ids.empty()) throw Error("the prompt is empty and the model has no BOS token to start from");
  if (static_cast<int64_t>(result.prompt_ids.size()) >= runtime_.context_size())
    throw Error(fmt::format("the prompt has {} tokens; it must be shorter than context.size {}",
                            result.prompt_ids.size(), runtime_.context_size()),
                TESSERA_ERR_OUT_OF_RANGE);
  runtime_.reset();
  if (sampler_ != nullptr) {
    sampler_->reset();
    for (int32_t id : result.prompt_ids) sampler_->accept(id);  // penalties see the prompt
  }
  StreamingDetokenizer detokenizer(tokenizer_, /*continues_text=*/true);
  std::vector<int32_t> history = result.prompt_ids;

  auto start = clock::now();
  std::vector<float> logits = runtime_.evaluate(result.prompt_ids);
  result.prompt_seconds = std::chrono::duration<double>(clock::now() - start).count();

  start = clock::now();
  for (int64_t i = 0; i < settings.max_tokens; ++i) {
    const auto sample_start = clock::now();
    const int32_t token = pick(logits);
    result.sampling_seconds += std::chrono::duration<double>(clock::now() - sample_start).count();
    ++result.sampling_steps;
    if (settings.stop_at_eos && token == tokenizer_.eos_id()) {
      result.stopped_at_eos = true;
      break;
    }
    result.generated_ids.push_back(token);
    history.push_back(token);
    const std::string text = detokenizer.push(token);
    result.text += text;
    if (on_text && !text.empty()) on_text(text);
    if (i + 1 == settings.max_tokens) break;
    if (runtime_.n_past() + 1 > runtime_.context_size()) {
      if (!settings.context_shift)
        throw Error(fmt::format("the context is full after {} tokens (context.size {}); raise context.size or set "
                                "context.shift: true",
                                runtime_.n_past(), runtime_.context_size()),
                    TESSERA_ERR_OUT_OF_RANGE);
      shift_context(history);
    }
    const auto decode_start = clock::now();
    logits = runtime_.evaluate(std::span<const int32_t>(&token, 1));
    result.decode_seconds += std::chrono::duration<double>(clock::now() - decode_start).count();
    ++result.decode_steps;
  }
  result.generation_seconds = std::chrono::duration<double>(clock::now() - start).count();
  const std::string rest = detokenizer.flush();
  result.text += rest;
  if (on_text && !rest.empty()) on_text(rest);
  return result;
}

}  // namespace tessera
