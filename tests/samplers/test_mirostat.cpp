// mirostat v1 and v2: the truncation each derives from mu, and mu's update
// from the accepted token, followed step by step by a model kept in the test.
#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "sampler_harness.hpp"

namespace tessera::test {
namespace {

std::set<int32_t> as_set(const std::vector<int32_t>& ids) { return {ids.begin(), ids.end()}; }

TEST(sampler_mirostat_v2, TruncatesAtMuAndLearnsFromAcceptedTokens) {
  const std::vector<double> p = {0.5, 0.25, 0.125, 0.125};  // surprises 1, 2, 3, 3 bits
  std::vector<float> logits;
  for (double x : p) logits.push_back(static_cast<float>(std::log(x)));
  const double tau = 1.1, eta = 1.0;
  SamplerInstance mirostat("{name: mirostat_v2, tau: 1.1, eta: 1.0, seed: 5}");
  mirostat.accept(2);  // a prompt token: no draw preceded it, mu stays 2 * tau

  auto expected_kept = [&](double mu) {
    std::set<int32_t> kept;
    for (int32_t id = 0; id < 4; ++id)
      if (-std::log2(p[static_cast<std::size_t>(id)]) <= mu) kept.insert(id);
    if (kept.empty()) kept.insert(0);
    return kept;
  };
  double mu = 2 * tau;
  std::set<std::set<int32_t>> seen;
  for (int step = 0; step < 60; ++step) {
    CandidateList list(logits);
    mirostat.apply(list);
    const std::set<int32_t> kept = expected_kept(mu);
    ASSERT_EQ(as_set(list.ids()), kept) << "step " << step << ", mu " << mu;
    seen.insert(kept);
    const int32_t token = list.ids()[static_cast<std::size_t>(list.view().selected)];
    double mass = 0;
    for (int32_t id : kept) mass += p[static_cast<std::size_t>(id)];
    mu -= eta * (-std::log2(p[static_cast<std::size_t>(token)] / mass) - tau);
    mirostat.accept(token);
  }
  EXPECT_GE(seen.size(), 2u) << "mu never moved the truncation";

  mirostat.reset();
  CandidateList list(logits);
  mirostat.apply(list);
  EXPECT_EQ(as_set(list.ids()), expected_kept(2 * tau));
}

TEST(sampler_mirostat, KeepsTheTopKForTheTargetSurprise) {
  // Zipf probabilities p_i ~ 1 / (i + 1)^1.5 make the estimate s_hat = 1.5
  // exact. With N = 1000 and mu = 2 * tau = 10:
  // k = ((s - 1) 2^mu / (1 - N^(1 - s)))^(1 / s) = 65.39 -> 65.
  const double s = 1.5, tau = 5, eta = 0.5;
  const int n = 1000;
  std::vector<float> logits;
  for (int i = 0; i < n; ++i) logits.push_back(static_cast<float>(-s * std::log(i + 1.0)));
  SamplerInstance mirostat("{name: mirostat, tau: 5, eta: 0.5, seed: 3}", n);
  auto k_for = [&](double mu) {
    return static_cast<std::size_t>(std::pow((s - 1) * std::exp2(mu) / (1 - std::pow(n, 1 - s)), 1 / s));
  };
  double mu = 2 * tau;
  ASSERT_EQ(k_for(mu), 65u);
  for (int step = 0; step < 5; ++step) {
    CandidateList list(logits);
    mirostat.apply(list);
    const std::size_t k = std::max<std::size_t>(1, k_for(mu));
    ASSERT_EQ(list.view().size, k) << "step " << step;
    for (std::size_t i = 0; i < k; ++i) ASSERT_EQ(list.ids()[i], static_cast<int32_t>(i));
    const int32_t token = list.ids()[static_cast<std::size_t>(list.view().selected)];
    double mass = 0;
    for (std::size_t i = 0; i < k; ++i) mass += std::pow(static_cast<double>(i) + 1.0, -s);
    mu -= eta * (-std::log2(std::pow(token + 1.0, -s) / mass) - tau);
    mirostat.accept(token);
  }
}

}  // namespace
}  // namespace tessera::test
