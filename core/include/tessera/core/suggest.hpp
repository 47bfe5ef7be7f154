// "Did you mean ...?" for misspelt keys and plugin names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

// Edit distance: insert, delete, substitute and swap adjacent characters
// each cost 1 (optimal string alignment).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible
// typo (distance <= 1 for words of up to 3 characters, else <= max(2,
// |word| / 3); or `word` is a prefix of it).
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// "'a', 'b' or 'c'"
std::string quoted_list(const std::vector<std::string>& items);

}  // namespace tessera
