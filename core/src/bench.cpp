#include "tessera/core/bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/session.hpp"

namespace tessera {

std::string BenchTest::name() const {
  const std::string base = fmt::format("{}{}", kind == BenchKind::prompt ? "pp" : "tg", tokens);
  return depth > 0 ? fmt::format("{}@d{}", base, depth) : base;
}

// A generation test without depth still starts after a 1-token prompt (BOS).
int64_t BenchTest::positions() const {
  return kind == BenchKind::prompt ? depth + tokens : std::max<int64_t>(depth, 1) + tokens;
}

uint64_t peak_rss_bytes() {
  // VmHWM follows reset_peak_rss(); ru_maxrss never goes down.
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

uint64_t current_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmRSS:  1234 kB"
  return 0;
}

void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5";
}

ModelSummary summarize_model(const Session& session) {
  ModelSummary s;
  std::map<int32_t, uint64_t> bytes_by_type;
  for (const TensorInfo& t : session.model().tensors()) {
    s.bytes += t.n_bytes;
    s.parameters += t.element_count();
    // Norm vectors stay F32 in every quantized file; the matrices say what it is.
    if (t.dims.size() >= 2) bytes_by_type[t.dtype] += t.n_bytes;
  }
  int32_t main_type = -1;
  uint64_t most = 0;
  for (const auto& [type, bytes] : bytes_by_type)
    if (bytes > most) most = bytes, main_type = type;
  const char* name = main_type >= 0 ? tessera_dtype_info(main_type).name : nullptr;
  s.type = name != nullptr ? name : "unknown";
  return s;
}

BenchResult run_bench_test(Session& session, const BenchTest& test, const BenchOptions& options,
                           const std::function<void(int, int)>& progress) {
  LlamaRuntime& runtime = session.runtime();
  if (test.tokens < 1) throw Error(fmt::format("{}: a test needs at least one token", test.name()));
  if (test.depth < 0) throw Error(fmt::format("{}: the depth must not be negative", test.name()));
  const int64_t needed = test.positions();
  if (needed > runtime.context_size())
    throw Error(fmt::format("{} needs {} positions but the pipeline's context.size is {}; raise it (--ctx-size)",
                            test.name(), needed, runtime.context_size()));
  if (options.repetitions < 1) throw Error("repetitions must be at least 1");

  const auto vocab = static_cast<int32_t>(runtime.hparams().vocab_size);
  // The same tokens in every run and every invocation: content does not
  // change the work, but a fixed input keeps runs comparable.
  std::mt19937 rng(options.seed);
  std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
  std::vector<int32_t> tokens(static_cast<std::size_t>(test.tokens));
  for (int32_t& t : tokens) t = pick(rng);
  const int32_t bos = session.tokenizer().bos_id() >= 0 ? session.tokenizer().bos_id() : tokens[0];
  // The context a depth test starts from: a document, so BOS first.
  const int64_t filled = test.kind == BenchKind::prompt ? test.depth : std::max<int64_t>(test.depth, 1);
  std::vector<int32_t> filler(static_cast<std::size_t>(filled));
  for (int32_t& t : filler) t = pick(rng);
  if (!filler.empty()) filler[0] = bos;

  SamplerChain* chain = session.sampler();
  volatile int32_t chosen = 0;  // keeps the argmax from being optimized away
  BenchResult result;
  result.test = test;
  const int total = options.repetitions + 1;
  for (int run = 0; run < total; ++run) {
    runtime.reset();
    if (!filler.empty()) runtime.evaluate(filler);
    double seconds = 0;
    if (test.kind == BenchKind::prompt) {
      const auto start = std::chrono::steady_clock::now();
      runtime.evaluate(tokens);  // returns after the logits are read back: the work is done
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } else {
      // The input stays the fixed random tokens; the chosen ones only feed
      // the chain's own history (penalties), as in generation.
      if (chain != nullptr) chain->reset();
      double sampling = 0;
      const auto start = std::chrono::steady_clock::now();
      for (const int32_t t : tokens) {
        const std::vector<float> logits = runtime.evaluate(std::span<const int32_t>(&t, 1));
        const auto sample_start = std::chrono::steady_clock::now();
        chosen = chain != nullptr
                     ? chain->sample(logits)
                     : static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        sampling += std::chrono::duration<double>(std::chrono::steady_clock::now() - sample_start).count();
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - sampling;
      if (run > 0) result.sampling_seconds.push_back(sampling);
    }
    if (run > 0) {  // run 0 warms caches, pages and lazily built kernels
      result.seconds.push_back(seconds);
      result.tokens_per_second.push_back(seconds > 0 ? static_cast<double>(test.tokens) / seconds : 0.0);
    }
    if (progress) progress(run + 1, total);
  }
  runtime.reset();
  static_cast<void>(chosen);

  const auto& tps = result.tokens_per_second;
  const auto n = static_cast<double>(tps.size());
  result.mean_tokens_per_second = std::accumulate(tps.begin(), tps.end(), 0.0) / n;
  if (tps.size() > 1) {
    double sq = 0;
    for (double v : tps) sq += (v - result.mean_tokens_per_second) * (v - result.mean_tokens_per_second);
    result.stddev_tokens_per_second = std::sqrt(sq / (n - 1));
  }
  if (!result.sampling_seconds.empty()) {
    const double sampling = std::accumulate(result.sampling_seconds.begin(), result.sampling_seconds.end(), 0.0);
    const double decode = std::accumulate(result.seconds.begin(), result.seconds.end(), 0.0);
    result.sampling_seconds_per_token = sampling / (n * static_cast<double>(test.tokens));
    result.sampling_share_of_decode = decode > 0 ? sampling / decode : 0.0;
  }
  for (const auto& backend : session.backends()) result.device_bytes += backend->used_bytes();
  result.peak_rss_bytes = peak_rss_bytes();
  return result;
}

}  // namespace tessera
