// The relative L2 error every numeric test in the tree compares with.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace tessera::test {

// ||got - want|| / ||want|| in double precision; the plain ||got - want||
// when `want` is all zeros (so a zero reference is not a NaN that no
// tolerance accepts). Sizes must match: a mismatch is a test failure.
template <typename Got, typename Want>
double relative_error(const Got& got, const Want& want) {
  EXPECT_EQ(got.size(), want.size()) << "relative_error: the two vectors differ in size";
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(got.size(), want.size()); ++i) {
    const double d = static_cast<double>(got[i]) - static_cast<double>(want[i]);
    diff += d * d;
    norm += static_cast<double>(want[i]) * static_cast<double>(want[i]);
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

}  // namespace tessera::test
