// A/B comparison of two pipelines that run the same model (`tessera ab`):
// whether they really load the same model, and how closely their next-token
// distributions agree when both read the same tokens (teacher forcing).
// The measure llama.cpp's perplexity --kl-divergence uses: KL(A || B) from
// log-softmax in double, per position, plus top-1 agreement and the largest
// raw logit difference.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tessera {

class LlamaRuntime;
class ModelFile;

// Why `a` and `b` are not the same model (tensor count, then the first tensor
// whose name, shape or type differs), or nullopt when every tensor matches.
// Two paths to one file are the same model without looking further.
std::optional<std::string> model_difference(const ModelFile& a, const ModelFile& b);

// One position's comparison of two logit rows over the same vocabulary.
struct LogitComparison {
  double kl = 0;                  // KL(A || B) = sum p_A (log p_A - log p_B), nats
  bool same_top1 = false;         // argmax equal (the lowest index wins a tie)
  double max_abs_difference = 0;  // max |logit_A - logit_B|
};
// Throws tessera::Error when the rows differ in length or are empty.
LogitComparison compare_logits(std::span<const float> a, std::span<const float> b);

struct AgreementOptions {
  int64_t context = 512;          // tokens per chunk, as perplexity cuts the text
  int64_t max_chunks = 0;         // 0: every whole chunk
  std::optional<int32_t> bos_id;  // replaces each chunk's first token, as in perplexity
  // Evaluate the chunk one token at a time (the decode path: mat-vec
  // kernels) instead of as one batch (the prompt path: mat-mat kernels).
  bool token_by_token = false;
};

struct AgreementResult {
  int64_t chunks = 0;
  int64_t positions = 0;  // distributions compared: every position of every chunk
  int64_t top1_agreements = 0;
  double top1_rate = 0;  // top1_agreements / positions
  double mean_kl = 0, max_kl = 0;
  int64_t max_kl_position = -1;  // index into the text's tokens
  double max_abs_logit_difference = 0;
  double seconds = 0;
};

// Evaluates the same chunks of `tokens` on both runtimes (each from an empty
// context, all logits) and compares every position. Throws tessera::Error
// when the vocabularies differ, the context is < 2 or larger than either
// runtime's, or the text has fewer tokens than one chunk. The runtimes are
// reset before each chunk. `progress(done, total)` after each chunk.
AgreementResult compare_distributions(LlamaRuntime& a, LlamaRuntime& b, std::span<const int32_t> tokens,
                                      const AgreementOptions& options,
                                      const std::function<void(int64_t, int64_t)>& progress = {});

// Index of the first token where two generated sequences differ (a shorter
// one differs where it ends), or nullopt when they are identical.
std::optional<int64_t> first_divergence(std::span<const int32_t> a, std::span<const int32_t> b);

}  // namespace tessera
