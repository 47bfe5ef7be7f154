#include "safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/cpp/plugin.hpp"

namespace tessera::gptq {
namespace {

struct DtypeRow {
  StDtype dtype;
  const char* name;
  uint64_t size;
};

constexpr DtypeRow kDtypes[] = {
    {StDtype::BOOL, "BOOL", 1}, {StDtype::U8, "U8", 1},       {StDtype::I8, "I8", 1},
    {StDtype::I16, "I16", 2},   {StDtype::U16, "U16", 2},     {StDtype::F16, "F16", 2},
    {StDtype::BF16, "BF16", 2}, {StDtype::I32, "I32", 4},     {StDtype::U32, "U32", 4},
    {StDtype::F32, "F32", 4},   {StDtype::F64, "F64", 8},     {StDtype::I64, "I64", 8},
    {StDtype::U64, "U64", 8},   {StDtype::F8_E4M3, "F8_E4M3", 1}, {StDtype::F8_E5M2, "F8_E5M2", 1},
};

const DtypeRow& row_of(StDtype dtype) {
  for (const DtypeRow& r : kDtypes)
    if (r.dtype == dtype) return r;
  throw sdk::Error(TESSERA_ERR_INTERNAL, "unknown safetensors dtype");
}

// The header nests three levels (root, tensor entry, shape list); anything
// deeper is hostile and refused while parsing, before it is built.
constexpr int kMaxJsonDepth = 3;

class HeaderParser {
 public:
  HeaderParser(const uint8_t* data, uint64_t size, const std::string& file) : data_(data), size_(size), file_(file) {}

  StContents parse() {
    if (size_ < 8) fail("file is " + std::to_string(size_) + " bytes; expected at least 8 (the header length)");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data_[i];
    if (header_len > kMaxHeaderBytes)
      fail("header length " + std::to_string(header_len) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
           " bytes");
    if (header_len > size_ - 8)
      fail("header length " + std::to_string(header_len) + " runs past the end of the file (" + std::to_string(size_) +
           " bytes; at most " + std::to_string(size_ - 8) + " expected)");
    if (header_len < 2) fail("header length " + std::to_string(header_len) + " is too short for a JSON object");
    StContents out;
    out.data_offset = 8 + header_len;
    const char* text = reinterpret_cast<const char*>(data_ + 8);
    if (text[0] != '{') fail("header does not start with '{'; expected a JSON object");
    nlohmann::json header = parse_json(text, header_len);
    if (!header.is_object()) fail("header is not a JSON object");
    const uint64_t data_size = size_ - out.data_offset;
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__") {
        read_metadata(it.value(), out.metadata);
        continue;
      }
      out.tensors.push_back(read_tensor(it.key(), it.value(), data_size));
    }
    check_tiling(out.tensors, data_size);
    for (StTensor& t : out.tensors) t.data = data_ + out.data_offset + t.begin;
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw sdk::Error(TESSERA_ERR_FORMAT, file_ + ": " + what); }
  [[noreturn]] void fail_tensor(const std::string& name, const std::string& what) const {
    fail("tensor '" + name + "': " + what);
  }

  // Duplicate keys are refused in every object (the root, a tensor entry,
  // __metadata__): nlohmann keeps the last one, which would hide the other.
  nlohmann::json parse_json(const char* text, uint64_t len) {
    using Event = nlohmann::json::parse_event_t;
    std::vector<std::set<std::string>> open_objects;  // keys seen, innermost last
    std::string entry;                                // the root key being parsed
    auto callback = [&](int depth, Event event, nlohmann::json& parsed) {
      if (depth > kMaxJsonDepth) fail("header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      if (event == Event::object_start) open_objects.emplace_back();
      if (event == Event::object_end) open_objects.pop_back();
      if (event != Event::key) return true;
      const std::string& key = parsed.get_ref<const std::string&>();
      if (depth == 1) entry = key;
      if (open_objects.back().insert(key).second) return true;
      if (depth == 1) fail("header names '" + key + "' twice; expected unique tensor names");
      if (entry == "__metadata__") fail("'__metadata__' names '" + key + "' twice; expected unique keys");
      fail_tensor(entry, "field '" + key + "' appears twice; expected dtype, shape and data_offsets once each");
    };
    try {
      return nlohmann::json::parse(text, text + len, callback);
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("header is not valid JSON: ") + e.what());
    }
  }

  void read_metadata(const nlohmann::json& v, std::map<std::string, std::string>& out) const {
    if (!v.is_object()) fail("'__metadata__' is not an object; expected string keys and string values");
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_string()) fail("'__metadata__." + it.key() + "' is not a string; expected a string value");
      out[it.key()] = it.value().get<std::string>();
    }
  }

  StTensor read_tensor(const std::string& name, const nlohmann::json& v, uint64_t data_size) const {
    if (!v.is_object()) fail_tensor(name, "entry is not an object; expected {dtype, shape, data_offsets}");
    for (auto it = v.begin(); it != v.end(); ++it)
      if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets")
        fail_tensor(name, "unknown field '" + it.key() + "'; expected only dtype, shape and data_offsets");
    StTensor t;
    t.name = name;
    const auto dtype = v.find("dtype");
    if (dtype == v.end() || !dtype->is_string()) fail_tensor(name, "field 'dtype' is missing or not a string");
    const auto parsed = st_dtype_from_name(dtype->get<std::string>());
    if (!parsed)
      fail_tensor(name, "field 'dtype' is '" + dtype->get<std::string>() +
                            "'; expected one of BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64 F8_E4M3 F8_E5M2");
    t.dtype = *parsed;
    const auto shape = v.find("shape");
    if (shape == v.end() || !shape->is_array()) fail_tensor(name, "field 'shape' is missing or not a list");
    if (shape->size() > kMaxTensorDims)
      fail_tensor(name, "field 'shape' has " + std::to_string(shape->size()) + " dimensions; expected at most " +
                            std::to_string(kMaxTensorDims));
    uint64_t elements = 1;
    bool overflow = false;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) fail_tensor(name, "field 'shape' holds " + d.dump() + "; expected non-negative integers");
      const uint64_t n = d.get<uint64_t>();
      t.shape.push_back(n);
      if (n != 0 && elements > UINT64_MAX / n) overflow = true;
      else elements *= n;
    }
    const uint64_t esize = st_dtype_size(t.dtype);
    if (overflow || elements > UINT64_MAX / esize) fail_tensor(name, "field 'shape' describes more bytes than fit in 64 bits");
    const uint64_t expected = elements * esize;
    const auto offsets = v.find("data_offsets");
    if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      fail_tensor(name, "field 'data_offsets' is missing or malformed; expected [begin, end] as non-negative integers");
    t.begin = (*offsets)[0].get<uint64_t>();
    t.end = (*offsets)[1].get<uint64_t>();
    if (t.end < t.begin)
      fail_tensor(name, "field 'data_offsets' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                            ") ends before it begins");
    if (t.end > data_size)
      fail_tensor(name, "field 'data_offsets' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                            ") runs past the data section of " + std::to_string(data_size) + " bytes");
    if (t.end - t.begin != expected)
      fail_tensor(name, "field 'data_offsets' spans " + std::to_string(t.end - t.begin) + " bytes; expected " +
                            std::to_string(expected) + " (shape x " + st_dtype_name(t.dtype) + " size)");
    return t;
  }

  // The tensors must cover [0, data_size) exactly once.
  void check_tiling(const std::vector<StTensor>& tensors, uint64_t data_size) const {
    std::vector<const StTensor*> order;
    for (const StTensor& t : tensors)
      if (t.n_bytes() > 0) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const StTensor* a, const StTensor* b) { return a->begin < b->begin; });
    uint64_t at = 0;
    const StTensor* previous = nullptr;
    for (const StTensor* t : order) {
      if (t->begin < at)
        fail_tensor(t->name, "field 'data_offsets' [" + std::to_string(t->begin) + ", " + std::to_string(t->end) +
                                 ") overlaps tensor '" + previous->name + "' [" + std::to_string(previous->begin) + ", " +
                                 std::to_string(previous->end) + ")");
      if (t->begin > at)
        fail_tensor(t->name, "field 'data_offsets' begins at " + std::to_string(t->begin) + "; expected " +
                                 std::to_string(at) + " (the data section may not have holes)");
      at = t->end;
      previous = t;
    }
    if (at != data_size)
      fail("the tensors cover " + std::to_string(at) + " bytes of the data section; expected all " +
           std::to_string(data_size) + " (trailing bytes or truncated header)");
  }

  const uint8_t* data_;
  uint64_t size_;
  const std::string& file_;
};

}  // namespace

const char* st_dtype_name(StDtype dtype) { return row_of(dtype).name; }
uint64_t st_dtype_size(StDtype dtype) { return row_of(dtype).size; }

std::optional<StDtype> st_dtype_from_name(std::string_view name) {
  for (const DtypeRow& r : kDtypes)
    if (name == r.name) return r.dtype;
  return std::nullopt;
}

uint64_t StTensor::element_count() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

const StTensor* StContents::find(std::string_view name) const {
  for (const StTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

StContents parse_safetensors(const uint8_t* data, uint64_t size, const std::string& file) {
  return HeaderParser(data, size, file).parse();
}

}  // namespace tessera::gptq
