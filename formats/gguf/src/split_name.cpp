#include "split_name.hpp"

#include <cstdio>

namespace tessera::gguf {

namespace {

// Five decimal digits at `s`, or nullopt.
std::optional<uint32_t> five_digits(std::string_view s) {
  if (s.size() != 5) return std::nullopt;
  uint32_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}

}  // namespace

std::optional<SplitName> parse_split_name(std::string_view path) {
  // "-NNNNN-of-MMMMM.gguf" is 20 characters.
  constexpr std::string_view kSuffix = ".gguf";
  if (path.size() < 20 || path.substr(path.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  const std::string_view tail = path.substr(path.size() - 20);
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-") return std::nullopt;
  const auto number = five_digits(tail.substr(1, 5));
  const auto count = five_digits(tail.substr(10, 5));
  if (!number || !count || *number == 0 || *number > *count) return std::nullopt;
  return SplitName{std::string(path.substr(0, path.size() - 20)), *number, *count};
}

std::string split_part_path(std::string_view prefix, uint32_t number, uint32_t count) {
  char tail[48];
  std::snprintf(tail, sizeof tail, "-%05u-of-%05u.gguf", number, count);
  return std::string(prefix) + tail;
}

}  // namespace tessera::gguf
