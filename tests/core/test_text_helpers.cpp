// Small pieces the validator is built from: suggestions, layer ranges,
// strict scalar parsing, variable expansion, op.dtype names.
#include <gtest/gtest.h>

#include "tessera/core/error.hpp"
#include "tessera/core/layer_range.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/scalar_parse.hpp"
#include "tessera/core/suggest.hpp"
#include "tessera/types.h"

using namespace tessera;

TEST(Suggest, EditDistance) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("top_k", "top_k"), 0u);
  EXPECT_EQ(edit_distance("btach", "batch"), 1u);  // one swap
  EXPECT_EQ(edit_distance("abc", "ca"), 3u);
}

TEST(Suggest, ClosestMatchOnlyForPlausibleTypos) {
  const std::vector<std::string> keys{"size", "batch", "kv_type", "shift"};
  EXPECT_EQ(closest_match("btach", keys), "batch");
  EXPECT_EQ(closest_match("kvtype", keys), "kv_type");
  EXPECT_EQ(closest_match("zzzzzz", keys), std::nullopt);
  EXPECT_EQ(did_you_mean("sise", keys), " (did you mean 'size'?)");
  EXPECT_EQ(quoted_list({"a", "b", "c"}), "'a', 'b' or 'c'");
}

TEST(LayerRanges, ParsesEveryForm) {
  EXPECT_EQ(parse_layer_range("0-19")->last, 19);
  EXPECT_TRUE(parse_layer_range("20-")->open_ended());
  EXPECT_EQ(parse_layer_range("7")->first, 7);
  EXPECT_EQ(parse_layer_range("7")->last, 7);
  EXPECT_TRUE(parse_layer_range("all")->open_ended());
  EXPECT_FALSE(parse_layer_range("9-2"));
  EXPECT_FALSE(parse_layer_range("-3"));
  EXPECT_FALSE(parse_layer_range("a-b"));
  EXPECT_FALSE(parse_layer_range(""));
}

TEST(LayerRanges, Overlap) {
  EXPECT_TRUE(parse_layer_range("0-9")->overlaps(*parse_layer_range("9-12")));
  EXPECT_FALSE(parse_layer_range("0-9")->overlaps(*parse_layer_range("10-")));
  EXPECT_TRUE(parse_layer_range("30-")->overlaps(*parse_layer_range("31")));
}

TEST(ScalarParse, IsStrict) {
  EXPECT_EQ(parse_int("40"), 40);
  EXPECT_EQ(parse_int("+3"), 3);
  EXPECT_EQ(parse_int("-1"), -1);
  EXPECT_FALSE(parse_int("40x"));
  EXPECT_FALSE(parse_int("4.0"));
  EXPECT_FALSE(parse_int("99999999999999999999"));
  EXPECT_DOUBLE_EQ(*parse_double("0.95"), 0.95);
  EXPECT_DOUBLE_EQ(*parse_double("1e-3"), 1e-3);
  EXPECT_FALSE(parse_double("1e400"));
  EXPECT_FALSE(parse_double("nan"));
  EXPECT_EQ(parse_bool("Yes"), true);
  EXPECT_EQ(parse_bool("off"), false);
  EXPECT_FALSE(parse_bool("maybe"));
}

TEST(ExpandVariables, DefaultsAndErrors) {
  ::setenv("TESSERA_EXPAND_TEST", "/data", 1);
  EXPECT_EQ(expand_variables("${TESSERA_EXPAND_TEST}/m.gguf"), "/data/m.gguf");
  EXPECT_EQ(expand_variables("${TESSERA_EXPAND_UNSET:-../shared}/m"), "../shared/m");
  EXPECT_EQ(expand_variables("plain $HOME"), "plain $HOME");
  EXPECT_THROW(expand_variables("${TESSERA_EXPAND_UNSET}"), Error);
  EXPECT_THROW(expand_variables("${OPEN"), Error);
}

TEST(KernelOverrideNames, ParseOpAndDtype) {
  auto q = parse_kernel_override("mul_mat.q4_0");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->op, TESSERA_OP_MUL_MAT);
  EXPECT_EQ(q->dtype, TESSERA_DTYPE_Q4_0);
  EXPECT_EQ(parse_kernel_override("get_rows.iq4_xs")->dtype, TESSERA_DTYPE_IQ4_XS);
  EXPECT_FALSE(parse_kernel_override("mul_mat"));
  EXPECT_FALSE(parse_kernel_override("matmul.q4_0"));
  EXPECT_FALSE(parse_kernel_override("mul_mat.q9_9"));
}
