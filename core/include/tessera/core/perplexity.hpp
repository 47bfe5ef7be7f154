// Perplexity of a model over a token sequence, by llama.cpp's method so the
// numbers compare with published ones: the tokens are cut into
// non-overlapping chunks of `context` tokens, each chunk is evaluated from an
// empty context with its first token replaced by BOS, and only the second
// half of each chunk is scored (the first half gives the model context).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace tessera {

class LlamaRuntime;

struct PerplexityOptions {
  int64_t context = 512;             // tokens per chunk
  int64_t max_chunks = 0;            // 0: every whole chunk of the text
  std::optional<int32_t> bos_id;     // replaces each chunk's first token; nullopt: keep it
};

// The state after one more chunk; the running values cover chunks 0..index.
struct PerplexityChunk {
  int64_t index = 0;
  int64_t chunks = 0;                // how many will be evaluated in all
  double chunk_nll = 0;              // mean negative log-likelihood of this chunk's scored tokens
  double ppl = 0;                    // running exp(mean NLL)
  double ppl_error = 0;              // running standard error of ppl
  int64_t scored = 0;                // tokens scored so far
  double seconds = 0;                // time this chunk took
};

struct PerplexityResult {
  std::vector<PerplexityChunk> chunks;
  double ppl = 0, ppl_error = 0;     // the last chunk's running values
  int64_t tokens = 0;                // tokens in the text
  int64_t scored = 0;
  double seconds = 0;
};

// Scored positions of a chunk of `context` tokens: logits at j predict token
// j + 1 for j in [first, context - 1), first = context / 2.
int64_t perplexity_first_scored(int64_t context);

// log P(token | logits) = logit[token] - log(sum exp(logits)), in double.
double token_log_probability(std::span<const float> logits, int32_t token);

// Throws tessera::Error when the context is < 4 or larger than the runtime's,
// or the text has fewer than 2 * context tokens (llama.cpp's minimum).
// The runtime is reset before each chunk and left holding the last one.
PerplexityResult compute_perplexity(LlamaRuntime& runtime, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options,
                                    const std::function<void(const PerplexityChunk&)>& on_chunk = {});

}  // namespace tessera
