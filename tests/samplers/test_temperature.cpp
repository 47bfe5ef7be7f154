// temperature: plain scaling, the t = 0 limit, and dynamic temperature
// driven by the normalized entropy.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "sampler_harness.hpp"

namespace tessera::test {
namespace {

TEST(sampler_temperature, DividesEveryLogitByT) {
  SamplerInstance temperature("{name: temperature, t: 0.8}");
  CandidateList list({1.0f, -2.0f, 3.0f, 0.0f});
  list.get()->sorted = 0;
  list.get()->normalized = 1;
  temperature.apply(list);
  ASSERT_EQ(list.view().size, 4u);
  EXPECT_FLOAT_EQ(list.logit_of(0), 1.25f);  // 1 / 0.8
  EXPECT_FLOAT_EQ(list.logit_of(1), -2.5f);
  EXPECT_FLOAT_EQ(list.logit_of(2), 3.75f);
  EXPECT_FLOAT_EQ(list.logit_of(3), 0.0f);
  EXPECT_EQ(list.view().normalized, 0);  // probabilities are stale
}

TEST(sampler_temperature, ZeroKeepsOnlyTheMostLikely) {
  SamplerInstance temperature("{name: temperature, t: 0}");
  CandidateList list({1.0f, 4.0f, 3.0f});
  temperature.apply(list);
  EXPECT_EQ(list.ids(), (std::vector<int32_t>{1}));
}

TEST(sampler_temperature, DynamicTemperatureFollowsEntropy) {
  // p = 0.5, 0.25, 0.15, 0.1: H = 1.2079737 nats, H / ln 4 = 0.8713688.
  // t = 1, range 0.5: t_dyn = 0.5 + 1.0 * 0.8713688^exponent.
  const std::vector<double> p = {0.5, 0.25, 0.15, 0.1};
  for (const auto& [yaml, t_dyn] :
       {std::pair{"{name: temperature, t: 1, dynatemp_range: 0.5}", 1.3713688},
        std::pair{"{name: temperature, t: 1, dynatemp_range: 0.5, dynatemp_exponent: 2}", 1.2592836}}) {
    SamplerInstance temperature(yaml);
    std::vector<float> logits;
    for (double x : p) logits.push_back(static_cast<float>(std::log(x)));
    CandidateList list(logits);
    temperature.apply(list);
    for (int32_t id = 0; id < 4; ++id)
      EXPECT_NEAR(list.logit_of(id), std::log(p[static_cast<std::size_t>(id)]) / t_dyn, 2e-6) << yaml;
  }
}

TEST(sampler_temperature, DynamicTemperatureOfAUniformListIsTheMaximum) {
  // Entropy ln n: normalized entropy 1, so t_dyn = t + range = 2.
  SamplerInstance temperature("{name: temperature, t: 1.5, dynatemp_range: 0.5}");
  CandidateList list({1.0f, 1.0f, 1.0f});
  temperature.apply(list);
  EXPECT_NEAR(list.logit_of(0), 0.5f, 1e-6);
}

}  // namespace
}  // namespace tessera::test
