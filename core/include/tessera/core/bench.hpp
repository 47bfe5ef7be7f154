// Speed measurements of a loaded pipeline, as llama-bench makes them:
// a prompt test evaluates N random tokens from an empty context in one call
// (batched by the runtime), a generation test evaluates N single tokens
// after a 1-token prompt. Each test runs once unmeasured (warm-up), then
// `repetitions` times. A test with a depth first fills the context with that
// many tokens (not timed), as llama-bench's -d does: speed at a context length.
// A generation test also runs each token's logits through the pipeline's
// sampler chain (argmax without one), timed apart from the decode, so the
// chain's cost per token can be set against the model's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera {

class Session;

enum class BenchKind { prompt, generation };

struct BenchTest {
  BenchKind kind = BenchKind::prompt;
  int64_t tokens = 0;
  int64_t depth = 0;         // context filled before the timed tokens
  std::string name() const;  // "pp512", "tg128", "tg128@d512"
  int64_t positions() const; // context positions the test needs
};

struct BenchOptions {
  int repetitions = 5;
  uint32_t seed = 1234;  // of the random prompt tokens
};

struct BenchResult {
  BenchTest test;
  std::vector<double> seconds;            // per counted repetition
  std::vector<double> tokens_per_second;  // per counted repetition
  double mean_tokens_per_second = 0;
  double stddev_tokens_per_second = 0;    // sample standard deviation; 0 for one repetition
  // Generation tests: time in the sampler chain per counted repetition (not
  // part of `seconds`), its mean per token, and that over the decode time per token.
  std::vector<double> sampling_seconds;
  double sampling_seconds_per_token = 0;
  double sampling_share_of_decode = 0;
  uint64_t device_bytes = 0;              // allocated on all backends after the test
  uint64_t peak_rss_bytes = 0;            // of this process so far
};

// The size, parameter count and main weight type of a model file.
struct ModelSummary {
  uint64_t bytes = 0;
  uint64_t parameters = 0;
  std::string type;  // the type holding most of the weight bytes, e.g. "Q4_0"
};
ModelSummary summarize_model(const Session& session);

// `progress(done, total)` after each run, the warm-up included.
// Throws tessera::Error when the test does not fit the context.
BenchResult run_bench_test(Session& session, const BenchTest& test, const BenchOptions& options,
                           const std::function<void(int, int)>& progress = {});

// Peak resident set size of this process, in bytes.
uint64_t peak_rss_bytes();
// Current resident set size of this process, in bytes (0 where unknown).
uint64_t current_rss_bytes();
// Starts the peak over from the current RSS where the kernel allows it
// (Linux /proc/self/clear_refs), e.g. after the bandwidth test's buffer.
void reset_peak_rss();

}  // namespace tessera
