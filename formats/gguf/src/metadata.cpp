#include "metadata.hpp"

#include <cstring>
#include <string>

namespace tessera::gguf {

uint64_t scalar_size(uint32_t type) {
  switch (type) {
    case TESSERA_VALUE_UINT8: case TESSERA_VALUE_INT8: case TESSERA_VALUE_BOOL: return 1;
    case TESSERA_VALUE_UINT16: case TESSERA_VALUE_INT16: return 2;
    case TESSERA_VALUE_UINT32: case TESSERA_VALUE_INT32: case TESSERA_VALUE_FLOAT32: return 4;
    case TESSERA_VALUE_UINT64: case TESSERA_VALUE_INT64: case TESSERA_VALUE_FLOAT64: return 8;
    default: return 0;
  }
}

const char* value_type_name(uint32_t type) {
  static const char* const kNames[] = {"UINT8", "INT8",  "UINT16", "INT16",  "UINT32", "INT32",  "FLOAT32",
                                       "BOOL",  "STRING", "ARRAY", "UINT64", "INT64",  "FLOAT64"};
  return type < std::size(kNames) ? kNames[type] : nullptr;
}

namespace {

tessera_value blank_value(tessera_value_type type) {
  tessera_value v{};
  v.struct_size = sizeof(tessera_value);
  v.type = type;
  return v;
}

// Decodes one numeric/bool element stored little-endian at `p`.
tessera_value decode_scalar(tessera_value_type type, const uint8_t* p) {
  tessera_value v = blank_value(type);
  auto load = [p](auto zero) {
    decltype(zero) x;
    std::memcpy(&x, p, sizeof x);
    return x;
  };
  switch (type) {
    case TESSERA_VALUE_UINT8: v.as.u = load(uint8_t{}); break;
    case TESSERA_VALUE_UINT16: v.as.u = load(uint16_t{}); break;
    case TESSERA_VALUE_UINT32: v.as.u = load(uint32_t{}); break;
    case TESSERA_VALUE_UINT64: v.as.u = load(uint64_t{}); break;
    case TESSERA_VALUE_INT8: v.as.i = load(int8_t{}); break;
    case TESSERA_VALUE_INT16: v.as.i = load(int16_t{}); break;
    case TESSERA_VALUE_INT32: v.as.i = load(int32_t{}); break;
    case TESSERA_VALUE_INT64: v.as.i = load(int64_t{}); break;
    case TESSERA_VALUE_FLOAT32: v.as.f = static_cast<double>(load(float{})); break;
    case TESSERA_VALUE_FLOAT64: v.as.f = load(double{}); break;
    case TESSERA_VALUE_BOOL: v.as.b = p[0] != 0 ? 1 : 0; break;
    default: break;
  }
  return v;
}

}  // namespace

// Recursive-descent parser for values; remembers where it is (key and the
// element indices of enclosing arrays) to name the field in errors.
class Metadata::Parser {
 public:
  Parser(Metadata& table, ByteCursor& cursor) : table_(table), cur_(cursor) {}

  void entry(uint64_t entry_index, uint64_t entry_count) {
    depth_ = 0;
    key_ = {};
    const std::string_view key = cur_.string([&] { return "key of metadata entry " + std::to_string(entry_index); });
    key_ = key;
    if (key.empty()) fail("metadata entry " + std::to_string(entry_index) + " has an empty key, expected a name");
    const uint32_t type = cur_.read<uint32_t>([&] { return where() + " value type"; });
    const tessera_value value = parse_value(type);
    const auto [it, inserted] = table_.index_.emplace(key, table_.entries_.size());
    if (!inserted)
      fail("metadata key '" + std::string(key) + "' appears twice (entries " + std::to_string(it->second) + " and " +
           std::to_string(entry_index) + " of " + std::to_string(entry_count) + "), expected unique keys");
    table_.entries_.emplace_back(key, value);
  }

 private:
  std::string where() const {
    std::string s = "metadata '" + std::string(key_) + "'";
    for (int d = 0; d < depth_; ++d) s += " [" + std::to_string(path_[d]) + "]";
    return s;
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw sdk::Error(TESSERA_ERR_FORMAT, std::string(cur_.file()) + ": " + message);
  }
  std::string type_text(uint32_t type) const {
    const char* name = value_type_name(type);
    return name ? std::string(name) + " (" + std::to_string(type) + ")" : std::to_string(type);
  }

  tessera_value parse_value(uint32_t type) {
    if (type == TESSERA_VALUE_STRING) {
      tessera_value v = blank_value(TESSERA_VALUE_STRING);
      const std::string_view s = cur_.string([&] { return where() + " string"; });
      v.as.s = {s.data(), s.size()};
      return v;
    }
    if (type == TESSERA_VALUE_ARRAY) return parse_array();
    const uint64_t size = scalar_size(type);
    if (size == 0)
      fail(where() + ": unknown value type " + std::to_string(type) + ", expected 0..12 (UINT8..FLOAT64)");
    cur_.need(size, [&] { return where() + " " + type_text(type) + " value"; });
    check_bools(type, cur_.here(), 1);
    const tessera_value v = decode_scalar(static_cast<tessera_value_type>(type), cur_.here());
    cur_.skip(size, [] { return ""; });
    return v;
  }

  tessera_value parse_array() {
    if (depth_ >= kMaxArrayDepth)
      fail(where() + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
    const uint32_t element_type = cur_.read<uint32_t>([&] { return where() + " array element type"; });
    const uint64_t count = cur_.read<uint64_t>([&] { return where() + " array length"; });
    const uint64_t element_size = scalar_size(element_type);
    // The smallest encoding of one element bounds the count before any
    // allocation: 8 bytes for a string length, 12 for an array header.
    const uint64_t min_size = element_type == TESSERA_VALUE_STRING  ? 8
                              : element_type == TESSERA_VALUE_ARRAY ? 12
                                                                    : element_size;
    if (min_size == 0)
      fail(where() + ": array of unknown value type " + std::to_string(element_type) +
           ", expected 0..12 (UINT8..FLOAT64)");
    if (count > cur_.remaining() / min_size)
      fail(where() + ": array of " + std::to_string(count) + " " + type_text(element_type) + " elements needs at least " +
           (count > UINT64_MAX / min_size ? std::string("2^64") : std::to_string(count * min_size)) +
           " bytes, the file has " + std::to_string(cur_.remaining()) + " left");

    ArrayBody body{static_cast<tessera_value_type>(element_type), count, nullptr, {}};
    if (element_size != 0) {
      body.packed = cur_.here();
      check_bools(element_type, body.packed, count);
      cur_.skip(count * element_size, [] { return ""; });
    } else {
      body.items.reserve(count);
      path_[depth_++] = 0;
      for (uint64_t i = 0; i < count; ++i) {
        path_[depth_ - 1] = i;
        body.items.push_back(parse_value(element_type));
      }
      --depth_;
    }
    tessera_value v = blank_value(TESSERA_VALUE_ARRAY);
    v.as.array.element_type = body.element_type;
    v.as.array.count = count;
    v.as.array.data = body.packed;
    // Handles are 1-based indices into arrays_, never 0 so NULL means "none".
    v.as.array.handle = reinterpret_cast<const void*>(static_cast<uintptr_t>(table_.arrays_.size() + 1));
    table_.arrays_.push_back(std::move(body));
    return v;
  }

  // GGUF bools are one byte, 0 or 1; anything else is corruption.
  void check_bools(uint32_t type, const uint8_t* p, uint64_t count) const {
    if (type != TESSERA_VALUE_BOOL) return;
    for (uint64_t i = 0; i < count; ++i)
      if (p[i] > 1)
        fail(where() + (count > 1 || depth_ > 0 ? " element " + std::to_string(i) : std::string()) +
             ": BOOL value is " + std::to_string(p[i]) + ", expected 0 or 1");
  }

  Metadata& table_;
  ByteCursor& cur_;
  std::string_view key_;
  uint64_t path_[kMaxArrayDepth] = {};
  int depth_ = 0;
};

void Metadata::parse(ByteCursor& cursor, uint64_t count) {
  // Each entry takes at least 12 bytes (key length and value type).
  if (count > cursor.remaining() / 12)
    throw sdk::Error(TESSERA_ERR_FORMAT, std::string(cursor.file()) + ": metadata count " + std::to_string(count) +
                                             " needs at least " +
                                             (count > UINT64_MAX / 12 ? std::string("2^64") : std::to_string(count * 12)) +
                                             " bytes, the file has " + std::to_string(cursor.remaining()) + " left");
  entries_.reserve(count);
  index_.reserve(count);
  Parser parser(*this, cursor);
  for (uint64_t i = 0; i < count; ++i) parser.entry(i, count);
}

const tessera_value* Metadata::find(std::string_view key) const {
  const auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const Metadata::ArrayBody& Metadata::body_of(const tessera_value& array) const {
  if (array.type != TESSERA_VALUE_ARRAY)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     "metadata_array_get: the value is not an ARRAY (type " + std::to_string(array.type) + ")");
  const auto handle = reinterpret_cast<uintptr_t>(array.as.array.handle);
  if (handle == 0 || handle > arrays_.size())
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     "metadata_array_get: the array handle does not come from this file");
  return arrays_[handle - 1];
}

tessera_value Metadata::element(const tessera_value& array, uint64_t index) const {
  const ArrayBody& body = body_of(array);
  if (index >= body.count)
    throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, "metadata_array_get: index " + std::to_string(index) +
                                                   " is outside the array of " + std::to_string(body.count) +
                                                   " elements");
  if (body.packed != nullptr) return decode_scalar(body.element_type, body.packed + index * scalar_size(body.element_type));
  return body.items[index];
}

bool Metadata::get_unsigned(std::string_view key, uint64_t& out, std::string_view file) const {
  const tessera_value* v = find(key);
  if (v == nullptr) return false;
  switch (v->type) {
    case TESSERA_VALUE_UINT8: case TESSERA_VALUE_UINT16: case TESSERA_VALUE_UINT32: case TESSERA_VALUE_UINT64:
      out = v->as.u;
      return true;
    case TESSERA_VALUE_INT8: case TESSERA_VALUE_INT16: case TESSERA_VALUE_INT32: case TESSERA_VALUE_INT64:
      if (v->as.i >= 0) {
        out = static_cast<uint64_t>(v->as.i);
        return true;
      }
      throw sdk::Error(TESSERA_ERR_FORMAT, std::string(file) + ": metadata '" + std::string(key) + "' is " +
                                               std::to_string(v->as.i) + ", expected a non-negative integer");
    default: {
      const char* name = value_type_name(v->type);
      throw sdk::Error(TESSERA_ERR_FORMAT, std::string(file) + ": metadata '" + std::string(key) + "' has type " +
                                               (name ? name : "?") + ", expected an integer");
    }
  }
}

}  // namespace tessera::gguf
