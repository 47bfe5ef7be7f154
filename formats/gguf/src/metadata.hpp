// The key/value metadata of one GGUF file, parsed once at open into
// tessera_value records whose strings and numeric arrays point into the
// mapped file (no copies). Read-only after parsing, so concurrent lookups
// need no locking.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "byte_cursor.hpp"
#include "tessera/types.h"

namespace tessera::gguf {

// Arrays nest at most this deep (an array of arrays of ... counts each
// level). Real files use one level; the bound keeps recursion and the
// host's copies (core/model_file.cpp stops at 8) finite.
inline constexpr int kMaxArrayDepth = 8;

class Metadata {
 public:
  // Parses `count` key/value entries at the cursor (the GGUF KV section).
  void parse(ByteCursor& cursor, uint64_t count);

  uint64_t size() const { return entries_.size(); }
  std::string_view key(uint64_t index) const { return entries_.at(index).first; }
  const tessera_value& value(uint64_t index) const { return entries_.at(index).second; }
  // nullptr when absent.
  const tessera_value* find(std::string_view key) const;

  // Element `index` of an ARRAY value that this table produced. Throws
  // sdk::Error: INVALID_ARGUMENT for a foreign handle, OUT_OF_RANGE for a
  // bad index.
  tessera_value element(const tessera_value& array, uint64_t index) const;

  // An integer entry as uint64 (any integer width, negative refused);
  // nullopt-like `found = false` when absent. Throws FORMAT when the entry is
  // not a non-negative integer.
  bool get_unsigned(std::string_view key, uint64_t& out, std::string_view file) const;

 private:
  // Body of one ARRAY value; values refer to it by index (the handle), so a
  // handle can be range-checked and the vector may grow while parsing.
  struct ArrayBody {
    tessera_value_type element_type;
    uint64_t count;
    const uint8_t* packed;              // numeric and bool elements, in place
    std::vector<tessera_value> items;   // STRING and ARRAY elements
  };
  class Parser;

  const ArrayBody& body_of(const tessera_value& array) const;

  std::vector<std::pair<std::string_view, tessera_value>> entries_;
  std::unordered_map<std::string_view, uint64_t> index_;
  std::vector<ArrayBody> arrays_;
};

// Size in bytes of a numeric or bool value type; 0 for STRING, ARRAY and
// unknown ids.
uint64_t scalar_size(uint32_t type);

// "UINT8", ..., or nullptr for an unknown id.
const char* value_type_name(uint32_t type);

}  // namespace tessera::gguf
