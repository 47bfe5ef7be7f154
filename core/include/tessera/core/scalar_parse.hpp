// Strict parsing of YAML scalars: the whole text must be the value, so
// "40x" is not 40 and "1e400" is not infinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tessera {

std::optional<int64_t> parse_int(std::string_view text);
std::optional<double> parse_double(std::string_view text);  // finite values only
std::optional<bool> parse_bool(std::string_view text);      // true/false/yes/no/on/off

}  // namespace tessera
