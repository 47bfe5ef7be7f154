// DRY: the token that would extend a repeated run loses
// multiplier * base^(run length - allowed_length); runs stop at breakers.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sampler_harness.hpp"

namespace tessera::test {
namespace {

// Logits (all zero over 10 tokens) after DRY has seen `history`.
std::vector<float> penalties_after(const std::string& yaml, const std::vector<int32_t>& history,
                                   const Vocab* vocab = nullptr) {
  SamplerInstance dry(yaml, 10, vocab);
  for (int32_t token : history) dry.accept(token);
  CandidateList list(std::vector<float>(10, 0.0f));
  dry.apply(list);
  std::vector<float> out;
  for (int32_t id = 0; id < 10; ++id) out.push_back(list.logit_of(id));
  return out;
}

std::vector<float> zeros_but(std::vector<std::pair<int, float>> changes) {
  std::vector<float> out(10, 0.0f);
  for (auto [id, value] : changes) out[static_cast<std::size_t>(id)] = value;
  return out;
}

TEST(sampler_dry, PenalizesTheTokenThatContinuedTheRepeat) {
  // 1 2 3 4 1 2 3: the tail "1 2 3" (length 3) was followed by 4.
  const std::vector<int32_t> history = {1, 2, 3, 4, 1, 2, 3};
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2}", history),
            zeros_but({{4, -2.0f}}));  // 1 * 2^(3 - 2)
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 0.5, base: 2, allowed_length: 3}", history),
            zeros_but({{4, -0.5f}}));  // 0.5 * 2^0
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 4}", history), zeros_but({}));
}

TEST(sampler_dry, EachTokenTakesItsLongestRepeat) {
  // Tail "6 7 1 2": "7 1 2" (3) was followed by 5, "6 7 1 2" (4) by 8.
  const std::vector<int32_t> history = {3, 7, 1, 2, 5, 6, 7, 1, 2, 8, 6, 7, 1, 2};
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2}", history),
            zeros_but({{5, -2.0f}, {8, -4.0f}}));
  // Overlapping runs of one token: 4 4 4 4 repeats "4 4 4" (3) before a 4.
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2}", {4, 4, 4, 4}),
            zeros_but({{4, -2.0f}}));
}

TEST(sampler_dry, SequenceBreakersEndRuns) {
  Vocab vocab;
  for (int i = 0; i < 10; ++i) vocab.texts.push_back(std::string(1, static_cast<char>('a' + i)));
  vocab.texts[2] = "x\ny";  // contains the default breaker "\n"
  const std::vector<int32_t> history = {1, 2, 3, 4, 1, 2, 3};
  // Only "3" follows the last breaker: a run of 1 < allowed_length 2.
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2}", history, &vocab),
            zeros_but({}));
  // With other breakers, token 2 is ordinary again.
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2, sequence_breakers: ['#']}",
                            history, &vocab),
            zeros_but({{4, -2.0f}}));
}

TEST(sampler_dry, ABreakerThatContinuedARunIsNotPenalized) {
  Vocab vocab;
  for (int i = 0; i < 10; ++i) vocab.texts.push_back(std::string(1, static_cast<char>('a' + i)));
  vocab.texts[3] = "\n";
  // 5 1 2 \n 5 1 2: the tail "5 1 2" (3) was followed by "\n", which stays
  // as likely as before (llama.cpp and text-generation-webui agree).
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2}", {5, 1, 2, 3, 5, 1, 2}, &vocab),
            zeros_but({}));
  // The same history with token 3 ordinary: it is penalized as usual.
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2, sequence_breakers: ['#']}",
                            {5, 1, 2, 3, 5, 1, 2}, &vocab),
            zeros_but({{3, -2.0f}}));
  // Other continuations of the run are still penalized: 5 1 2 \n 5 1 2 7 5 1 2.
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, allowed_length: 2}",
                            {5, 1, 2, 3, 5, 1, 2, 7, 5, 1, 2}, &vocab),
            zeros_but({{7, -2.0f}}));
}

TEST(sampler_dry, WindowResetAndZeroMultiplier) {
  const std::vector<int32_t> history = {1, 2, 3, 4, 1, 2, 3};
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 1, base: 2, last_n: 3}", history), zeros_but({}));
  EXPECT_EQ(penalties_after("{name: dry, multiplier: 0}", history), zeros_but({}));
  SamplerInstance dry("{name: dry, multiplier: 1, base: 2}", 10);
  for (int32_t token : history) dry.accept(token);
  dry.reset();
  CandidateList list(std::vector<float>(10, 0.0f));
  dry.apply(list);
  EXPECT_EQ(list.logit_of(4), 0.0f);
}

}  // namespace
}  // namespace tessera::test
