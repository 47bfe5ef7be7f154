// Chains built from YAML, as the pipeline builds them: greedy equals
// top_k 1, the same seed gives the same tokens run after run and from any
// thread, and the example pipelines in config/ load.
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "sampler_harness.hpp"
#include "test_data.hpp"

namespace tessera::test {
namespace {

constexpr int32_t kVocab = 2000;

// A deterministic stream of logit vectors, standing in for a model.
std::vector<std::vector<float>> logit_stream(int steps, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<std::vector<float>> out(static_cast<std::size_t>(steps), std::vector<float>(kVocab));
  for (auto& logits : out)
    for (float& l : logits) l = normal(gen);
  return out;
}

std::vector<int32_t> run(SamplerChain& chain, const std::vector<std::vector<float>>& stream) {
  std::vector<int32_t> tokens;
  for (const auto& logits : stream) tokens.push_back(chain.sample(logits));
  return tokens;
}

const char* const kChatChain = R"(
- { name: penalties, last_n: 64, repeat_penalty: 1.1, frequency_penalty: 0.1, presence_penalty: 0.1 }
- { name: dry, multiplier: 0.8 }
- { name: top_k, k: 40 }
- { name: top_p, p: 0.95 }
- { name: min_p, p: 0.05 }
- { name: temperature, t: 0.8 }
- { name: dist, seed: 42 }
)";

TEST(sampler_chain, GreedyEqualsTopKOne) {
  ChainFromYaml greedy("[{name: greedy}]", kVocab);
  ChainFromYaml top1("[{name: top_k, k: 1}, {name: dist, seed: 9}]", kVocab);
  const auto stream = logit_stream(100, 1);
  EXPECT_EQ(run(*greedy, stream), run(*top1, stream));
}

TEST(sampler_chain, SameSeedSameTokensAndResetReplays) {
  const auto stream = logit_stream(200, 2);
  ChainFromYaml a(kChatChain, kVocab);
  ChainFromYaml b(kChatChain, kVocab);
  const auto first = run(*a, stream);
  EXPECT_EQ(first, run(*b, stream));
  a->reset();
  EXPECT_EQ(first, run(*a, stream));
  std::set<int32_t> distinct(first.begin(), first.end());
  EXPECT_GT(distinct.size(), 50u) << "the chain should sample, not always pick one token";
}

TEST(sampler_chain, SameTokensFromConcurrentThreads) {
  const auto stream = logit_stream(100, 3);
  ChainFromYaml reference(kChatChain, kVocab);
  const auto expected = run(*reference, stream);
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results)
    threads.emplace_back([&] {
      ChainFromYaml chain(kChatChain, kVocab);
      result = run(*chain, stream);
    });
  for (auto& t : threads) t.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

TEST(sampler_chain, EverySamplerRunsInAChain) {
  ChainFromYaml chain(R"(
- { name: logit_bias, bias: { 0: -100 } }
- { name: penalties, repeat_penalty: 1.3 }
- { name: dry }
- { name: top_n_sigma, n: 2 }
- { name: typical_p, p: 0.9 }
- { name: xtc, probability: 0.5, threshold: 0.1 }
- { name: temperature, t: 1.2, dynatemp_range: 0.3 }
- { name: mirostat_v2 }
)", kVocab);
  for (int32_t token : run(*chain, logit_stream(50, 4))) EXPECT_NE(token, 0);  // banned by the bias
  ChainFromYaml v1("[{name: top_k, k: 100}, {name: mirostat, m: 50}]", kVocab);
  EXPECT_EQ(run(*v1, logit_stream(20, 5)).size(), 20u);
}

// The sampling section of an example pipeline in config/, as a chain.
std::vector<int32_t> run_example(const std::string& file, const std::vector<std::vector<float>>& stream) {
  const YAML::Node doc = YAML::LoadFile((source_dir() / "config" / file).string());
  YAML::Emitter out;
  out << doc["sampling"];
  ChainFromYaml chain(out.c_str(), kVocab);
  return run(*chain, stream);
}

TEST(sampler_chain, ExamplePipelinesBuildAndAreReproducible) {
  const auto stream = logit_stream(50, 6);
  for (const char* file : {"chat.yaml", "mirostat-v2.yaml"}) {
    const auto tokens = run_example(file, stream);
    EXPECT_EQ(tokens.size(), 50u) << file;
    EXPECT_EQ(tokens, run_example(file, stream)) << file;
  }
}

}  // namespace
}  // namespace tessera::test
