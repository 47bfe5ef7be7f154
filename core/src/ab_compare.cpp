#include "tessera/core/ab_compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "tessera/core/error.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/types.h"

namespace tessera {
namespace {

std::string dtype_name(int32_t dtype) {
  const char* name = tessera_dtype_info(dtype).name;
  return name != nullptr ? name : fmt::format("dtype {}", dtype);
}

// log-softmax of one row, in double: x - max - log(sum exp(x - max)).
void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  out.resize(logits.size());
  double max = logits[0];
  for (float l : logits) max = std::max(max, static_cast<double>(l));
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double shift = max + std::log(sum);
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - shift;
}

// Logits of every position of `chunk` from an empty context.
std::vector<float> chunk_logits(LlamaRuntime& runtime, std::span<const int32_t> chunk, bool token_by_token) {
  runtime.reset();
  if (!token_by_token) return runtime.evaluate(chunk, /*all_logits=*/true);
  std::vector<float> all;
  for (const int32_t& token : chunk) {
    const std::vector<float> row = runtime.evaluate(std::span<const int32_t>(&token, 1));
    all.insert(all.end(), row.begin(), row.end());
  }
  return all;
}

}  // namespace

std::optional<std::string> model_difference(const ModelFile& a, const ModelFile& b) {
  std::error_code ec;
  if (std::filesystem::equivalent(a.path(), b.path(), ec)) return std::nullopt;
  const auto& ta = a.tensors();
  const auto& tb = b.tensors();
  if (ta.size() != tb.size())
    return fmt::format("A ({}) has {} tensors, B ({}) has {}", a.path().string(), ta.size(), b.path().string(),
                       tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    const TensorInfo* other = b.find_tensor(ta[i].name);
    if (other == nullptr)
      return fmt::format("tensor '{}' of A ({}) is not in B ({})", ta[i].name, a.path().string(), b.path().string());
    if (other->dims != ta[i].dims)
      return fmt::format("tensor '{}' is {} in A ({}) but {} in B ({})", ta[i].name, ta[i].shape_text(),
                         a.path().string(), other->shape_text(), b.path().string());
    if (other->dtype != ta[i].dtype)
      return fmt::format("tensor '{}' is {} in A ({}) but {} in B ({})", ta[i].name, dtype_name(ta[i].dtype),
                         a.path().string(), dtype_name(other->dtype), b.path().string());
  }
  return std::nullopt;
}

LogitComparison compare_logits(std::span<const float> a, std::span<const float> b) {
  if (a.empty() || a.size() != b.size())
    throw Error(fmt::format("cannot compare logit rows of {} and {} entries", a.size(), b.size()));
  thread_local std::vector<double> la, lb;
  log_softmax(a, la);
  log_softmax(b, lb);
  LogitComparison c;
  double kl = 0;
  std::size_t top_a = 0, top_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    kl += std::exp(la[i]) * (la[i] - lb[i]);
    if (a[i] > a[top_a]) top_a = i;
    if (b[i] > b[top_b]) top_b = i;
    c.max_abs_difference =
        std::max(c.max_abs_difference, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  // KL is >= 0; rounding can leave a few ulps below zero for near-equal rows.
  c.kl = std::max(kl, 0.0);
  c.same_top1 = top_a == top_b;
  return c;
}

AgreementResult compare_distributions(LlamaRuntime& a, LlamaRuntime& b, std::span<const int32_t> tokens,
                                      const AgreementOptions& options,
                                      const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t vocab = a.hparams().vocab_size;
  if (b.hparams().vocab_size != vocab)
    throw Error(fmt::format("the vocabularies differ: A has {} tokens, B has {}", vocab, b.hparams().vocab_size));
  const int64_t n_ctx = options.context;
  if (n_ctx < 2)
    throw Error(fmt::format("comparing distributions needs a context of at least 2 tokens, got {}", n_ctx));
  const int64_t room = std::min(a.context_size(), b.context_size());
  if (n_ctx > room)
    throw Error(
        fmt::format("context {} is larger than the pipelines' context.size {}; raise context.size", n_ctx, room));
  const auto n_tokens = static_cast<int64_t>(tokens.size());
  if (n_tokens < n_ctx)
    throw Error(fmt::format("the text has {} tokens; comparing with a context of {} needs at least that many", n_tokens,
                            n_ctx));
  int64_t n_chunks = n_tokens / n_ctx;
  if (options.max_chunks > 0) n_chunks = std::min(n_chunks, options.max_chunks);

  AgreementResult result;
  double kl_sum = 0;
  std::vector<int32_t> chunk(static_cast<std::size_t>(n_ctx));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    const auto begin = tokens.begin() + c * n_ctx;
    std::copy(begin, begin + n_ctx, chunk.begin());
    if (options.bos_id) chunk[0] = *options.bos_id;
    const std::vector<float> la = chunk_logits(a, chunk, options.token_by_token);
    const std::vector<float> lb = chunk_logits(b, chunk, options.token_by_token);
    const auto expected = static_cast<std::size_t>(n_ctx * vocab);
    if (la.size() != expected || lb.size() != expected)
      throw Error(fmt::format("the runtimes returned {} and {} logits for {} tokens of a {}-token vocabulary",
                              la.size(), lb.size(), n_ctx, vocab));
    for (int64_t j = 0; j < n_ctx; ++j) {
      const auto row = static_cast<std::size_t>(j * vocab);
      const LogitComparison p =
          compare_logits(std::span<const float>(la.data() + row, static_cast<std::size_t>(vocab)),
                         std::span<const float>(lb.data() + row, static_cast<std::size_t>(vocab)));
      kl_sum += p.kl;
      if (p.same_top1) ++result.top1_agreements;
      if (result.max_kl_position < 0 || p.kl > result.max_kl) {
        result.max_kl = p.kl;
        result.max_kl_position = c * n_ctx + j;
      }
      result.max_abs_logit_difference = std::max(result.max_abs_logit_difference, p.max_abs_difference);
      ++result.positions;
    }
    ++result.chunks;
    if (progress) progress(c + 1, n_chunks);
  }
  a.reset();
  b.reset();
  result.mean_kl = kl_sum / static_cast<double>(result.positions);
  result.top1_rate = static_cast<double>(result.top1_agreements) / static_cast<double>(result.positions);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::optional<int64_t> first_divergence(std::span<const int32_t> a, std::span<const int32_t> b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  if (a.size() != b.size()) return static_cast<int64_t>(n);
  return std::nullopt;
}

}  // namespace tessera
