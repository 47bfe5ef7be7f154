// Cost of the sampler chain per token on a 32000-entry vocabulary. Prints
// the numbers (for the report and for comparison with the model's decode
// time); asserts nothing about time, since test machines are shared.
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "sampler_harness.hpp"

namespace tessera::test {
namespace {

double microseconds_per_token(const char* chain_yaml, const std::vector<std::vector<float>>& stream, int tokens) {
  ChainFromYaml chain(chain_yaml, 32000);
  for (int i = 0; i < 20; ++i) chain->sample(stream[static_cast<std::size_t>(i) % stream.size()]);  // warm up
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < tokens; ++i) chain->sample(stream[static_cast<std::size_t>(i) % stream.size()]);
  const std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / tokens;
}

TEST(sampler_cost, ChatChainPerTokenOn32kVocabulary) {
  std::mt19937 gen(17);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<std::vector<float>> stream(16, std::vector<float>(32000));
  for (auto& logits : stream)
    for (float& l : logits) l = normal(gen);
  const std::pair<const char*, const char*> chains[] = {
      {"greedy", "[{name: greedy}]"},
      {"top_k 40 + dist", "[{name: top_k, k: 40}, {name: dist}]"},
      {"chat (penalties, top_k, top_p, min_p, temperature, dist)",
       "[{name: penalties, last_n: 64, repeat_penalty: 1.1}, {name: top_k, k: 40}, {name: top_p, p: 0.95},"
       " {name: min_p, p: 0.05}, {name: temperature, t: 0.8}, {name: dist, seed: 42}]"},
      {"top_p 0.95 + dist (no top_k)", "[{name: top_p, p: 0.95}, {name: dist}]"},
      {"mirostat_v2", "[{name: mirostat_v2}]"},
  };
  for (const auto& [label, yaml] : chains) {
    const double us = microseconds_per_token(yaml, stream, 300);
    std::printf("[ cost ] %-60s %8.1f us/token\n", label, us);
    RecordProperty(label, std::to_string(us));
  }
}

}  // namespace
}  // namespace tessera::test
