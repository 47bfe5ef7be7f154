// f16 / bf16 conversions against the compiler's own _Float16 conversions
// (GCC's soft-float routines), over every 16-bit pattern and many floats.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tessera/quant/half.hpp"

using namespace tessera::quant;

// GCC has _Float16 on x86-64; clang only from version 15.
#if defined(__FLT16_MANT_DIG__)

TEST(Half, EveryF16PatternDecodesLikeTheCompiler) {
  for (uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    _Float16 reference;
    std::memcpy(&reference, &h, 2);
    const float expected = static_cast<float>(reference);
    const float got = f16_to_f32(h);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(got)) << bits;
    } else {
      ASSERT_EQ(float_bits(got), float_bits(expected)) << "pattern " << bits;
    }
  }
}

TEST(Half, F32ToF16RoundsToNearestEvenLikeTheCompiler) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 2000000; ++i) {
    const float f = bits_float(any_bits(rng));
    if (std::isnan(f)) continue;
    const _Float16 reference = static_cast<_Float16>(f);
    uint16_t expected;
    std::memcpy(&expected, &reference, 2);
    ASSERT_EQ(f32_to_f16(f), expected) << "value " << f << " bits " << float_bits(f);
  }
  // Exact halfway cases around 1.0 and the subnormal / overflow edges.
  for (float f : {1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f, 65519.0f, 65520.0f, 5.96e-8f, 2.98e-8f, -0.0f}) {
    const _Float16 reference = static_cast<_Float16>(f);
    uint16_t expected;
    std::memcpy(&expected, &reference, 2);
    EXPECT_EQ(f32_to_f16(f), expected) << f;
  }
}

#else

TEST(Half, CompilerReference) { GTEST_SKIP() << "this compiler has no _Float16 to compare the f16 conversions with"; }

#endif

TEST(Half, Bf16IsTheUpperHalfRoundedToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(f32_to_bf16(bits_float(0x3F808000u)), 0x3F80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(bits_float(0x3F818000u)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(bits_float(0x3F808001u)), 0x3F81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}
