// Layer ranges of the pipeline's `compute:` entries ("0-19", "20-", "7", "all").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

struct LayerRange {
  int64_t first = 0;
  int64_t last = -1;  // inclusive; -1 means "to the model's last layer"

  bool open_ended() const { return last < 0; }
  bool overlaps(const LayerRange& other) const;
  std::string to_string() const;
};

// Parses the text form; nullopt when malformed (including last < first).
std::optional<LayerRange> parse_layer_range(std::string_view text);

}  // namespace tessera
