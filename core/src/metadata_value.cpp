#include "tessera/core/metadata_value.hpp"

#include <fmt/format.h>

#include "tessera/core/error.hpp"

namespace tessera {

const char* value_type_name(tessera_value_type type) {
  switch (type) {
    case TESSERA_VALUE_UINT8: return "uint8";
    case TESSERA_VALUE_INT8: return "int8";
    case TESSERA_VALUE_UINT16: return "uint16";
    case TESSERA_VALUE_INT16: return "int16";
    case TESSERA_VALUE_UINT32: return "uint32";
    case TESSERA_VALUE_INT32: return "int32";
    case TESSERA_VALUE_FLOAT32: return "float32";
    case TESSERA_VALUE_BOOL: return "bool";
    case TESSERA_VALUE_STRING: return "string";
    case TESSERA_VALUE_ARRAY: return "array";
    case TESSERA_VALUE_UINT64: return "uint64";
    case TESSERA_VALUE_INT64: return "int64";
    case TESSERA_VALUE_FLOAT64: return "float64";
  }
  return "unknown";
}

bool MetadataValue::is_integer() const {
  return std::holds_alternative<uint64_t>(value) || std::holds_alternative<int64_t>(value);
}

int64_t MetadataValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&value)) return static_cast<int64_t>(*u);
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  throw Error(fmt::format("expected an integer, found a {}", value_type_name(type)), TESSERA_ERR_FORMAT);
}

double MetadataValue::as_double() const {
  if (const auto* f = std::get_if<double>(&value)) return *f;
  if (is_integer()) return static_cast<double>(as_int());
  throw Error(fmt::format("expected a number, found a {}", value_type_name(type)), TESSERA_ERR_FORMAT);
}

const std::string& MetadataValue::as_string() const {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  throw Error(fmt::format("expected a string, found a {}", value_type_name(type)), TESSERA_ERR_FORMAT);
}

const std::vector<MetadataValue>& MetadataValue::as_array() const {
  if (const auto* a = std::get_if<std::vector<MetadataValue>>(&value)) return *a;
  throw Error(fmt::format("expected an array, found a {}", value_type_name(type)), TESSERA_ERR_FORMAT);
}

std::string MetadataValue::summary() const {
  if (const auto* u = std::get_if<uint64_t>(&value)) return std::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* f = std::get_if<double>(&value)) return fmt::format("{}", *f);
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&value)) {
    std::string shown = s->size() > 60 ? s->substr(0, 57) + "..." : *s;
    for (char& c : shown)
      if (c == '\n') c = ' ';
    return shown;
  }
  const auto& items = std::get<std::vector<MetadataValue>>(value);
  return fmt::format("[{} x {}]", items.size(), value_type_name(element_type));
}

}  // namespace tessera
