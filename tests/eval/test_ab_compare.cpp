// The pieces of `tessera ab` in core: KL(A||B), top-1 and logit differences
// against closed-form values, the first divergence of two token sequences,
// and the same-model check on the shared model files.
#include <gtest/gtest.h>

#include <cmath>

#include "eval_test_support.hpp"
#include "tessera/core/ab_compare.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace fs = std::filesystem;
using tessera::compare_logits;
using tessera::first_divergence;

TEST(AbCompare, KlMatchesTheClosedForm) {
  // A uniform over two tokens, B = softmax(ln 3, 0) = (3/4, 1/4):
  // KL(A||B) = 1/2 ln(1/2 / 3/4) + 1/2 ln(1/2 / 1/4) = 1/2 ln(4/3).
  const std::vector<float> a{0.0f, 0.0f};
  const std::vector<float> b{static_cast<float>(std::log(3.0)), 0.0f};
  const auto c = compare_logits(a, b);
  EXPECT_NEAR(c.kl, 0.5 * std::log(4.0 / 3.0), 1e-7);
  EXPECT_TRUE(c.same_top1);  // a tie in A: the lowest index (0) is A's top-1, as it is B's
  EXPECT_NEAR(c.max_abs_difference, std::log(3.0), 1e-6);

  // KL is not symmetric: KL(B||A) = 3/4 ln(3/2) + 1/4 ln(1/2).
  EXPECT_NEAR(compare_logits(b, a).kl, 0.75 * std::log(1.5) + 0.25 * std::log(0.5), 1e-7);
}

TEST(AbCompare, AShiftOfAllLogitsChangesNothingButTheRawDifference) {
  const std::vector<float> a{1.5f, -2.0f, 0.25f, 3.0f};
  std::vector<float> b = a;
  for (float& x : b) x += 10.0f;
  const auto c = compare_logits(a, b);
  EXPECT_NEAR(c.kl, 0.0, 1e-12);
  EXPECT_TRUE(c.same_top1);
  EXPECT_NEAR(c.max_abs_difference, 10.0, 1e-6);
  const auto same = compare_logits(a, a);
  EXPECT_EQ(same.kl, 0.0);  // exactly: every term is p * (x - x)
  EXPECT_EQ(same.max_abs_difference, 0.0);
}

TEST(AbCompare, TopOneDisagreementAndLargeVocabularies) {
  const std::vector<float> a{0.0f, 2.0f, 1.0f};
  const std::vector<float> b{0.0f, 1.0f, 2.0f};
  EXPECT_FALSE(compare_logits(a, b).same_top1);
  // Far-apart logits: KL stays finite in double (log-softmax, no exp overflow).
  std::vector<float> wide_a(32000, 0.0f), wide_b(32000, 0.0f);
  wide_a[7] = 80.0f;
  wide_b[9] = 80.0f;
  const auto c = compare_logits(wide_a, wide_b);
  EXPECT_TRUE(std::isfinite(c.kl));
  EXPECT_NEAR(c.kl, 80.0, 1e-3);  // p_A puts ~all mass on 7, where log p_A - log p_B ~ 80
  EXPECT_FALSE(c.same_top1);
}

TEST(AbCompare, RowsOfDifferentLengthsAreRefused) {
  const std::vector<float> a{0.0f, 1.0f}, b{0.0f};
  EXPECT_THROW(compare_logits(a, b), tessera::Error);
  EXPECT_THROW(compare_logits(std::vector<float>{}, std::vector<float>{}), tessera::Error);
}

TEST(AbCompare, FirstDivergence) {
  const std::vector<int32_t> x{1, 2, 3, 4};
  EXPECT_FALSE(first_divergence(x, x).has_value());
  EXPECT_EQ(first_divergence(x, std::vector<int32_t>{1, 2, 9, 4}), 2);
  EXPECT_EQ(first_divergence(x, std::vector<int32_t>{7}), 0);
  EXPECT_EQ(first_divergence(x, std::vector<int32_t>{1, 2}), 2);  // the shorter one ends there
  EXPECT_FALSE(first_divergence(std::vector<int32_t>{}, std::vector<int32_t>{}).has_value());
}

TEST(AbCompare, ModelDifferenceNamesTheTensorAndWhatDiffers) {
  const std::string tiny = "models/stories260K.gguf";
  const std::string f32 = "models/stories260K-wide256/stories260K-wide256-F32.gguf";
  const std::string q4 = "models/stories260K-wide256/pure/stories260K-wide256-pure-Q4_0.gguf";
  if (!tessera::test::have_gguf_and_data(tiny) || !tessera::test::have_gguf_and_data(f32) ||
      !tessera::test::have_gguf_and_data(q4))
    GTEST_SKIP() << "needs the gguf plugin and the shared models";
  tessera::PluginRegistry registry;
  registry.discover({tessera::test::build_plugin_dir()});
  const auto open = [&](const fs::path& p) { return std::make_unique<tessera::ModelFile>(p, registry); };
  const auto m_tiny = open(tessera::test::data_dir() / tiny);
  const auto m_f32 = open(tessera::test::data_dir() / f32);
  const auto m_q4 = open(tessera::test::data_dir() / q4);

  EXPECT_FALSE(tessera::model_difference(*m_f32, *m_f32).has_value());
  // A second path to the same file (a link) is the same model.
  tessera::test::TempDir dir("ab-models");
  fs::create_symlink(tessera::test::data_dir() / f32, dir.path() / "link.gguf");
  EXPECT_FALSE(tessera::model_difference(*m_f32, *open(dir.path() / "link.gguf")).has_value());

  const auto types = tessera::model_difference(*m_f32, *m_q4);
  ASSERT_TRUE(types.has_value());
  EXPECT_NE(types->find("tensor '"), std::string::npos) << *types;
  EXPECT_NE(types->find("F32 in A"), std::string::npos) << *types;
  EXPECT_NE(types->find("Q4_0 in B"), std::string::npos) << *types;

  const auto shapes = tessera::model_difference(*m_tiny, *m_f32);
  ASSERT_TRUE(shapes.has_value());
  EXPECT_NE(shapes->find("64"), std::string::npos) << *shapes;
  EXPECT_NE(shapes->find("256"), std::string::npos) << *shapes;
}
