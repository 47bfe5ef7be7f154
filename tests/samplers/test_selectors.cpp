// The samplers that choose the token: greedy (argmax) and dist (the seeded
// draw), including a chi-square test of dist against its target.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sampler_harness.hpp"

namespace tessera::test {
namespace {

TEST(sampler_greedy, SelectsTheHighestLogit) {
  SamplerInstance greedy("{name: greedy}");
  CandidateList list({0.5f, 3.0f, -1.0f, 2.9f});
  greedy.apply(list);
  ASSERT_EQ(list.view().selected, 1);
  EXPECT_EQ(list.view().size, 4u);  // greedy selects, it does not truncate
}

TEST(sampler_greedy, TiesGoToTheLowerId) {
  SamplerInstance greedy("{name: greedy}");
  CandidateList list({1.0f, 2.0f, 2.0f, 0.0f});
  greedy.apply(list);
  EXPECT_EQ(list.view().selected, 1);
}

TEST(sampler_greedy, RejectsAnEmptyList) {
  SamplerInstance greedy("{name: greedy}");
  CandidateList list({});
  std::string message;
  EXPECT_EQ(greedy.try_apply(list, &message), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(message.find("no candidates"), std::string::npos) << message;
}

// Draws `n` tokens from fresh copies of `logits` and counts them.
std::vector<int> draw_counts(SamplerInstance& dist, const std::vector<float>& logits, int n) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < n; ++i) {
    CandidateList list(logits);
    dist.apply(list);
    const int64_t selected = list.view().selected;
    EXPECT_GE(selected, 0);
    ++counts[static_cast<std::size_t>(list.ids()[static_cast<std::size_t>(selected)])];
  }
  return counts;
}

TEST(sampler_dist, FrequenciesMatchSoftmaxByChiSquare) {
  const std::vector<float> logits = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -2.0f};
  const std::vector<double> target = softmax_of({2.0, 1.0, 0.5, 0.0, -1.0, -2.0});
  const int n = 20000;
  for (const char* yaml : {"{name: dist, seed: 1}", "{name: dist, seed: 7}", "{name: dist}"}) {
    SamplerInstance dist(yaml);
    const std::vector<int> counts = draw_counts(dist, logits, n);
    double chi2 = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const double expected = n * target[i];
      chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    // Upper critical value of chi-square with 5 degrees of freedom at
    // significance 0.001 (NIST/SEMATECH e-Handbook of Statistical Methods,
    // table 1.3.6.7.4): 20.515.
    EXPECT_LT(chi2, 20.515) << yaml;
  }
}

TEST(sampler_dist, NeverDrawsAZeroProbabilityToken) {
  SamplerInstance dist("{name: dist, seed: 3}");
  const float banned = -std::numeric_limits<float>::infinity();
  const std::vector<int> counts = draw_counts(dist, {0.0f, banned, 0.0f, banned}, 2000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[3], 0);
  EXPECT_EQ(counts[0] + counts[2], 2000);
}

std::vector<int64_t> draw_sequence(SamplerInstance& dist, int n) {
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) {
    CandidateList list({0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f});
    dist.apply(list);
    out.push_back(list.view().selected);
  }
  return out;
}

TEST(sampler_dist, SameSeedSameDrawsAndResetReplays) {
  SamplerInstance a("{name: dist, seed: 1234}");
  SamplerInstance b("{name: dist, seed: 1234}");
  SamplerInstance c("{name: dist, seed: 1235}");
  const auto first = draw_sequence(a, 200);
  EXPECT_EQ(first, draw_sequence(b, 200));
  EXPECT_NE(first, draw_sequence(c, 200));
  a.reset();
  EXPECT_EQ(first, draw_sequence(a, 200));
}

TEST(sampler_dist, RandomSeedIsAccepted) {
  SamplerInstance dist("{name: dist, seed: -1}");
  CandidateList list({0.0f, 1.0f});
  dist.apply(list);
  EXPECT_GE(list.view().selected, 0);
}

}  // namespace
}  // namespace tessera::test
