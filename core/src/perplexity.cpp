#include "tessera/core/perplexity.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/llama_runtime.hpp"

namespace tessera {

int64_t perplexity_first_scored(int64_t context) { return context / 2; }

double token_log_probability(std::span<const float> logits, int32_t token) {
  if (token < 0 || static_cast<std::size_t>(token) >= logits.size())
    throw Error(fmt::format("token id {} is outside the vocabulary of {} logits", token, logits.size()));
  double max = logits[0];
  for (float l : logits) max = std::max(max, static_cast<double>(l));
  // Subtracting the maximum keeps exp() in range; the sum stays in double so
  // a large vocabulary does not lose the small terms.
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  return static_cast<double>(logits[static_cast<std::size_t>(token)]) - max - std::log(sum);
}

PerplexityResult compute_perplexity(LlamaRuntime& runtime, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options,
                                    const std::function<void(const PerplexityChunk&)>& on_chunk) {
  const int64_t n_ctx = options.context;
  if (n_ctx < 4) throw Error(fmt::format("perplexity needs a context of at least 4 tokens, got {}", n_ctx));
  if (n_ctx > runtime.context_size())
    throw Error(fmt::format("context {} is larger than the pipeline's context.size {}; raise context.size",
                            n_ctx, runtime.context_size()));
  const auto n_tokens = static_cast<int64_t>(tokens.size());
  if (n_tokens < 2 * n_ctx)
    throw Error(fmt::format("the text has {} tokens; perplexity with a context of {} needs at least {} (2 x context)",
                            n_tokens, n_ctx, 2 * n_ctx));
  int64_t n_chunks = n_tokens / n_ctx;  // a partial last chunk is dropped
  if (options.max_chunks > 0) n_chunks = std::min(n_chunks, options.max_chunks);

  const int64_t vocab = runtime.hparams().vocab_size;
  const int64_t first = perplexity_first_scored(n_ctx);
  PerplexityResult result;
  result.tokens = n_tokens;
  double nll_sum = 0, nll_sq_sum = 0;
  std::vector<int32_t> chunk(static_cast<std::size_t>(n_ctx));
  const auto start_all = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    const auto start = std::chrono::steady_clock::now();
    const auto begin = tokens.begin() + c * n_ctx;
    std::copy(begin, begin + n_ctx, chunk.begin());
    // Every chunk starts like a document does, so its first tokens are not
    // judged on a context the model never saw in training.
    if (options.bos_id) chunk[0] = *options.bos_id;
    runtime.reset();
    const std::vector<float> logits = runtime.evaluate(chunk, /*all_logits=*/true);
    if (static_cast<int64_t>(logits.size()) != n_ctx * vocab)
      throw Error(fmt::format("the runtime returned {} logits for {} tokens of a {}-token vocabulary", logits.size(),
                              n_ctx, vocab));
    double chunk_nll = 0;
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const std::span<const float> row(logits.data() + j * vocab, static_cast<std::size_t>(vocab));
      // The target is the text's token, not the BOS that replaced chunk[0]
      // (j + 1 >= 1, so it never is).
      const double nll = -token_log_probability(row, chunk[static_cast<std::size_t>(j + 1)]);
      chunk_nll += nll;
      nll_sum += nll;
      nll_sq_sum += nll * nll;
    }
    const int64_t per_chunk = n_ctx - 1 - first;
    result.scored += per_chunk;

    PerplexityChunk step;
    step.index = c;
    step.chunks = n_chunks;
    step.chunk_nll = chunk_nll / static_cast<double>(per_chunk);
    const auto n = static_cast<double>(result.scored);
    const double mean = nll_sum / n;
    step.ppl = std::exp(mean);
    // Standard error of the mean NLL, carried to ppl by d(exp x) = exp(x) dx.
    const double variance = nll_sq_sum / n - mean * mean;
    step.ppl_error = variance > 0 && n > 1 ? std::sqrt(variance / (n - 1)) * step.ppl : 0.0;
    step.scored = result.scored;
    step.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.chunks.push_back(step);
    if (on_chunk) on_chunk(step);
  }
  result.ppl = result.chunks.back().ppl;
  result.ppl_error = result.chunks.back().ppl_error;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_all).count();
  return result;
}

}  // namespace tessera
