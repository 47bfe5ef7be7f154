// The truncating samplers on hand-built logit vectors: top_k, top_p, min_p,
// typical_p, top_n_sigma and xtc, each checked against the exact candidate
// set worked out by hand (or by a plain full sort in the test).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sampler_harness.hpp"

namespace tessera::test {
namespace {

using Ids = std::vector<int32_t>;

float ln(double p) { return static_cast<float>(std::log(p)); }

// Probabilities 0.15, 0.5, 0.1, 0.25 for ids 0..3: by likelihood 1, 3, 0, 2.
std::vector<float> four_tokens() { return {ln(0.15), ln(0.5), ln(0.1), ln(0.25)}; }

Ids run_sampler(const std::string& yaml, const std::vector<float>& logits, tessera_candidates* out = nullptr) {
  SamplerInstance sampler(yaml);
  CandidateList list(logits);
  sampler.apply(list);
  if (out != nullptr) *out = list.view();
  return list.ids();
}

std::vector<float> random_logits(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(n);
  for (float& l : logits) l = normal(gen);
  return logits;
}

// Ids ordered by logit descending, ties by id: a plain full sort.
Ids ranked(const std::vector<float>& logits) {
  Ids ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)];
  });
  return ids;
}

TEST(sampler_top_k, KeepsTheKHighestInOrder) {
  tessera_candidates after{};
  EXPECT_EQ(run_sampler("{name: top_k, k: 3}", {1, 5, 3, 4, 2, 0}, &after), (Ids{1, 3, 2}));
  EXPECT_EQ(after.sorted, 1);
  EXPECT_EQ(run_sampler("{name: top_k, k: 1}", {1, 5, 3, 4, 2, 0}), (Ids{1}));
  EXPECT_EQ(run_sampler("{name: top_k, k: 2}", {1, 1, 1, 1}), (Ids{0, 1}));  // ties by id
}

TEST(sampler_top_k, ZeroOrLargeKKeepsEverything) {
  EXPECT_EQ(run_sampler("{name: top_k, k: 0}", {1, 5, 3}), (Ids{0, 1, 2}));
  EXPECT_EQ(run_sampler("{name: top_k, k: 10}", {1, 5, 3}), (Ids{0, 1, 2}));
}

TEST(sampler_top_k, FullVocabularyMatchesAFullSort) {
  const auto logits = random_logits(32000, 11);
  const Ids all = ranked(logits);
  for (int k : {1, 40, 64, 65, 500, 31999}) {
    const Ids expected(all.begin(), all.begin() + k);
    EXPECT_EQ(run_sampler("{name: top_k, k: " + std::to_string(k) + "}", logits), expected) << "k=" << k;
  }
}

TEST(sampler_top_p, KeepsTheSmallestNucleusReachingP) {
  EXPECT_EQ(run_sampler("{name: top_p, p: 0.7}", four_tokens()), (Ids{1, 3}));      // 0.5 + 0.25 >= 0.7
  EXPECT_EQ(run_sampler("{name: top_p, p: 0.8}", four_tokens()), (Ids{1, 3, 0}));   // 0.75 < 0.8 <= 0.9
  EXPECT_EQ(run_sampler("{name: top_p, p: 0.4}", four_tokens()), (Ids{1}));
  EXPECT_EQ(run_sampler("{name: top_p, p: 0.4, min_keep: 3}", four_tokens()), (Ids{1, 3, 0}));
  EXPECT_EQ(run_sampler("{name: top_p, p: 1.0}", four_tokens()), (Ids{0, 1, 2, 3}));
  tessera_candidates after{};
  run_sampler("{name: top_p, p: 0.7}", four_tokens(), &after);
  EXPECT_EQ(after.sorted, 1);
  EXPECT_EQ(after.normalized, 0);  // the kept probabilities no longer sum to one
}

TEST(sampler_top_p, FullVocabularyMatchesAFullSort) {
  // Flat enough that the nucleus needs more than one partial selection.
  auto logits = random_logits(32000, 5);
  for (float& l : logits) l *= 0.2f;
  const Ids all = ranked(logits);
  const std::vector<double> p = softmax_of(std::vector<double>(logits.begin(), logits.end()));
  for (double target : {0.5, 0.9, 0.99}) {
    const Ids kept = run_sampler("{name: top_p, p: " + std::to_string(target) + "}", logits);
    ASSERT_FALSE(kept.empty());
    EXPECT_TRUE(std::equal(kept.begin(), kept.end(), all.begin())) << "not the most likely tokens in order";
    // The mass of the kept set reaches p and that of one token fewer does
    // not (within float rounding of 32000 probabilities).
    double sum = 0;
    for (std::size_t i = 0; i + 1 < kept.size(); ++i) sum += p[static_cast<std::size_t>(all[i])];
    EXPECT_LT(sum, target + 1e-5) << target;
    EXPECT_GE(sum + p[static_cast<std::size_t>(all[kept.size() - 1])], target - 1e-5) << target;
  }
}

TEST(sampler_min_p, KeepsTokensAtLeastPTimesTheBest) {
  // p_max = 0.5: threshold 0.125 keeps 0.15, 0.5 and 0.25, in list order.
  tessera_candidates after{};
  EXPECT_EQ(run_sampler("{name: min_p, p: 0.25}", four_tokens(), &after), (Ids{0, 1, 3}));
  EXPECT_EQ(after.sorted, 0);
  EXPECT_EQ(run_sampler("{name: min_p, p: 0.6}", four_tokens()), (Ids{1}));               // threshold 0.3
  EXPECT_EQ(run_sampler("{name: min_p, p: 0.6, min_keep: 2}", four_tokens()), (Ids{1, 3}));
  EXPECT_EQ(run_sampler("{name: min_p, p: 0.0}", four_tokens()), (Ids{0, 1, 2, 3}));
}

TEST(sampler_typical_p, KeepsTheMostTypicalFirst) {
  // Probabilities 0.5, 0.25, 0.15, 0.1 (ids 0..3). Entropy H = 1.20797 nats;
  // |-ln p - H| = 0.5148, 0.1783, 0.6892, 1.0946: typical order 1, 0, 2, 3.
  const std::vector<float> logits = {ln(0.5), ln(0.25), ln(0.15), ln(0.1)};
  tessera_candidates after{};
  EXPECT_EQ(run_sampler("{name: typical_p, p: 0.5}", logits, &after), (Ids{1, 0}));  // 0.25, then 0.75 > 0.5
  EXPECT_EQ(after.sorted, 0);
  EXPECT_EQ(run_sampler("{name: typical_p, p: 0.8}", logits), (Ids{1, 0, 2}));       // 0.9 > 0.8
  EXPECT_EQ(run_sampler("{name: typical_p, p: 0.1}", logits), (Ids{1}));
  EXPECT_EQ(run_sampler("{name: typical_p, p: 0.1, min_keep: 2}", logits), (Ids{1, 0}));
  EXPECT_EQ(run_sampler("{name: typical_p, p: 1.0}", logits), (Ids{0, 1, 2, 3}));
}

TEST(sampler_top_n_sigma, KeepsLogitsWithinNSigmaOfTheMax) {
  // Mean 0, population variance (16 + 4 + 0 + 4 + 16) / 5 = 8, sigma 2.8284.
  const std::vector<float> logits = {4, 2, 0, -2, -4};
  EXPECT_EQ(run_sampler("{name: top_n_sigma, n: 1}", logits), (Ids{0, 1}));        // >= 1.17
  EXPECT_EQ(run_sampler("{name: top_n_sigma, n: 2}", logits), (Ids{0, 1, 2}));     // >= -1.66
  EXPECT_EQ(run_sampler("{name: top_n_sigma, n: 3}", logits), (Ids{0, 1, 2, 3, 4}));
  // A banned (-inf) token is ignored by the statistics and removed.
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(run_sampler("{name: top_n_sigma, n: 1}", {4, 2, -inf, 0, -2, -4}), (Ids{0, 1}));
  EXPECT_EQ(run_sampler("{name: top_n_sigma, n: 3}", {4, 2, -inf, 0, -2, -4}), (Ids{0, 1, 3, 4, 5}));
}

// Probabilities 0.4, 0.3, 0.2, 0.06, 0.04.
std::vector<float> five_tokens() { return {ln(0.4), ln(0.3), ln(0.2), ln(0.06), ln(0.04)}; }

TEST(sampler_xtc, RemovesTopChoicesButTheLeastLikelyOfThem) {
  EXPECT_EQ(run_sampler("{name: xtc, probability: 1, threshold: 0.1}", five_tokens()), (Ids{2, 3, 4}));
  EXPECT_EQ(run_sampler("{name: xtc, probability: 1, threshold: 0.25}", five_tokens()), (Ids{1, 2, 3, 4}));
  // One top choice (0.4 >= 0.35) or none: nothing to exclude.
  EXPECT_EQ(run_sampler("{name: xtc, probability: 1, threshold: 0.35}", five_tokens()), (Ids{0, 1, 2, 3, 4}));
  EXPECT_EQ(run_sampler("{name: xtc, probability: 1, threshold: 0.6}", five_tokens()), (Ids{0, 1, 2, 3, 4}));
  EXPECT_EQ(run_sampler("{name: xtc, probability: 0, threshold: 0.1}", five_tokens()), (Ids{0, 1, 2, 3, 4}));
  // Excluding would leave 3 < min_keep 4.
  EXPECT_EQ(run_sampler("{name: xtc, probability: 1, threshold: 0.1, min_keep: 4}", five_tokens()), (Ids{0, 1, 2, 3, 4}));
}

TEST(sampler_xtc, ExcludesWithTheGivenProbability) {
  SamplerInstance xtc("{name: xtc, probability: 0.3, threshold: 0.1, seed: 9}");
  const int trials = 10000;
  int excluded = 0;
  for (int i = 0; i < trials; ++i) {
    CandidateList list(five_tokens());
    xtc.apply(list);
    excluded += list.view().size == 3 ? 1 : 0;
  }
  // Binomial(10000, 0.3): sigma = 45.8; allow 5 sigma.
  EXPECT_NEAR(excluded, 3000, 230);
}

}  // namespace
}  // namespace tessera::test
