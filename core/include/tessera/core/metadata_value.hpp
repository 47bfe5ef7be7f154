// A GGUF-style metadata value held by the host (a C++ copy of what a format
// plugin hands out as tessera_value), used to inspect and to write files.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "tessera/types.h"

namespace tessera {

struct MetadataValue {
  tessera_value_type type = TESSERA_VALUE_UINT32;
  // UINT*: uint64_t, INT*: int64_t, FLOAT*: double, BOOL: bool, STRING: std::string,
  // ARRAY: the elements (each with its own type, all equal to element_type).
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<MetadataValue>> value;
  tessera_value_type element_type = TESSERA_VALUE_UINT8;  // ARRAY only

  static MetadataValue u32(uint32_t v) { return {TESSERA_VALUE_UINT32, uint64_t{v}, {}}; }
  static MetadataValue u64(uint64_t v) { return {TESSERA_VALUE_UINT64, v, {}}; }
  static MetadataValue i32(int32_t v) { return {TESSERA_VALUE_INT32, int64_t{v}, {}}; }
  static MetadataValue f32(float v) { return {TESSERA_VALUE_FLOAT32, double{v}, {}}; }
  static MetadataValue boolean(bool v) { return {TESSERA_VALUE_BOOL, v, {}}; }
  static MetadataValue string(std::string v) { return {TESSERA_VALUE_STRING, std::move(v), {}}; }
  static MetadataValue array(tessera_value_type element_type, std::vector<MetadataValue> items) {
    MetadataValue v{TESSERA_VALUE_ARRAY, std::move(items), element_type};
    return v;
  }

  bool is_integer() const;
  int64_t as_int() const;     // any integer type (throws tessera::Error otherwise)
  double as_double() const;   // any numeric type
  const std::string& as_string() const;
  const std::vector<MetadataValue>& as_array() const;
  // Short human-readable form ("32000", "llama", "[32000 x string]").
  std::string summary() const;
};

const char* value_type_name(tessera_value_type type);

}  // namespace tessera
