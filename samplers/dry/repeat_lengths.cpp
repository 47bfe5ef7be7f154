#include "repeat_lengths.hpp"

#include <algorithm>

namespace tessera::samplers {

std::vector<std::size_t> repeat_lengths(std::span<const int32_t> tokens, std::size_t cap) {
  const std::size_t n = tokens.size();
  if (n < 2) return {};
  // r[j] = tokens[n - 1 - j]; z[j] = longest common prefix of r and r[j..],
  // which is the common suffix of tokens[..n-1] and tokens[..n-1-j].
  auto r = [&](std::size_t j) { return tokens[n - 1 - j]; };
  std::vector<std::size_t> z(n, 0);
  std::size_t left = 0, right = 0;  // [left, right) matches a prefix of r
  for (std::size_t j = 1; j < n; ++j) {
    std::size_t length = j < right ? std::min(right - j, z[j - left]) : 0;
    while (j + length < n && r(length) == r(j + length)) ++length;
    z[j] = length;
    if (j + length > right) {
      left = j;
      right = j + length;
    }
  }
  std::vector<std::size_t> lengths(n - 1);
  for (std::size_t i = 0; i + 1 < n; ++i) lengths[i] = std::min(z[n - 1 - i], cap);
  return lengths;
}

}  // namespace tessera::samplers
