#include "tessera/core/layer_range.hpp"

#include <limits>

#include "tessera/core/scalar_parse.hpp"

namespace tessera {

bool LayerRange::overlaps(const LayerRange& other) const {
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t a_last = open_ended() ? max : last;
  const int64_t b_last = other.open_ended() ? max : other.last;
  return first <= b_last && other.first <= a_last;
}

std::string LayerRange::to_string() const {
  if (open_ended()) return first == 0 ? "all" : std::to_string(first) + "-";
  if (first == last) return std::to_string(first);
  return std::to_string(first) + "-" + std::to_string(last);
}

std::optional<LayerRange> parse_layer_range(std::string_view text) {
  if (text == "all") return LayerRange{0, -1};
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto single = parse_int(text);
    if (!single || *single < 0) return std::nullopt;
    return LayerRange{*single, *single};
  }
  auto first = parse_int(text.substr(0, dash));
  if (!first || *first < 0) return std::nullopt;
  const std::string_view tail = text.substr(dash + 1);
  if (tail.empty()) return LayerRange{*first, -1};
  auto last = parse_int(tail);
  if (!last || *last < *first) return std::nullopt;
  return LayerRange{*first, *last};
}

}  // namespace tessera
