// penalties and logit_bias change exactly the logits they should, whatever
// the order of the candidate list.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sampler_harness.hpp"

namespace tessera::test {
namespace {

const std::vector<float> kLogits = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f};

std::vector<float> logits_after(SamplerInstance& sampler, bool reversed = false) {
  CandidateList list(kLogits);
  if (reversed) std::reverse(list.get()->data, list.get()->data + list.get()->size);
  sampler.apply(list);
  std::vector<float> out;
  for (int32_t id = 0; id < static_cast<int32_t>(kLogits.size()); ++id) out.push_back(list.logit_of(id));
  return out;
}

TEST(sampler_penalties, PenalizeSeenTokensOnly) {
  for (bool reversed : {false, true}) {
    SamplerInstance penalties(
        "{name: penalties, last_n: 64, repeat_penalty: 2, frequency_penalty: 0.5, presence_penalty: 0.25}");
    for (int32_t token : {0, 1, 0, 3}) penalties.accept(token);  // counts: 0 x2, 1 x1, 3 x1
    const auto after = logits_after(penalties, reversed);
    EXPECT_FLOAT_EQ(after[0], 2.0f / 2 - (2 * 0.5f + 0.25f));   // positive: divided
    EXPECT_FLOAT_EQ(after[1], -1.0f * 2 - (1 * 0.5f + 0.25f));  // negative: multiplied
    EXPECT_FLOAT_EQ(after[2], 0.5f);                            // never seen
    EXPECT_FLOAT_EQ(after[3], 3.0f / 2 - (1 * 0.5f + 0.25f));
    EXPECT_FLOAT_EQ(after[4], -2.0f);
  }
}

TEST(sampler_penalties, OnlyTheLastNTokensCount) {
  SamplerInstance penalties("{name: penalties, last_n: 2, repeat_penalty: 2}");
  for (int32_t token : {0, 1, 3}) penalties.accept(token);  // window: 1, 3
  const auto after = logits_after(penalties);
  EXPECT_FLOAT_EQ(after[0], 2.0f);
  EXPECT_FLOAT_EQ(after[1], -2.0f);
  EXPECT_FLOAT_EQ(after[3], 1.5f);
}

TEST(sampler_penalties, ResetForgetsAndZeroWindowDisables) {
  SamplerInstance penalties("{name: penalties, repeat_penalty: 2}");
  penalties.accept(0);
  penalties.reset();
  EXPECT_EQ(logits_after(penalties), kLogits);
  SamplerInstance off("{name: penalties, last_n: 0, repeat_penalty: 2}");
  off.accept(0);
  EXPECT_EQ(logits_after(off), kLogits);
}

TEST(sampler_logit_bias, AddsTheBiasToListedTokens) {
  for (bool reversed : {false, true}) {
    SamplerInstance bias("{name: logit_bias, bias: {1: -100, 3: 2.5}}");
    const auto after = logits_after(bias, reversed);
    EXPECT_EQ(after, (std::vector<float>{2.0f, -101.0f, 0.5f, 5.5f, -2.0f}));
  }
}

TEST(sampler_logit_bias, RejectsTokenIdsOutsideTheVocabulary) {
  const std::string message = create_error("{name: logit_bias, bias: {7: 1}}", 5);
  EXPECT_NE(message.find("'bias' key '7' is not a token id (0 <= id < 5)"), std::string::npos) << message;
}

}  // namespace
}  // namespace tessera::test
