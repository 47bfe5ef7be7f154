#include "gguf_reader.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "tensor_geometry.hpp"

namespace tessera::gguf {

namespace {

[[noreturn]] void fail(std::string_view file, const std::string& message) {
  throw sdk::Error(TESSERA_ERR_FORMAT, std::string(file) + ": " + message);
}

std::string hex_bytes(const uint8_t* p, uint64_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint64_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}

void read_header(ByteCursor& cur, GgufContents& out, uint64_t& tensor_count, uint64_t& kv_count) {
  cur.need(4, [] { return "header (magic)"; });
  if (std::memcmp(cur.here(), "GGUF", 4) != 0)
    fail(cur.file(), "bad magic " + hex_bytes(cur.here(), 4) + ", expected \"GGUF\" (47 47 55 46): not a GGUF file");
  cur.skip(4, [] { return ""; });
  out.version = cur.read<uint32_t>([] { return "header (version)"; });
  if (out.version == 1)
    fail(cur.file(), "GGUF version 1 is not supported (it uses 32-bit counts); expected version 2 or 3 - "
                     "convert the file with a current llama.cpp");
  if (out.version != 2 && out.version != 3) {
    const uint32_t swapped = __builtin_bswap32(out.version);
    fail(cur.file(), "unsupported GGUF version " + std::to_string(out.version) + ", expected 2 or 3" +
                         (swapped >= 1 && swapped <= 3 ? " (this looks like a big-endian GGUF file)" : ""));
  }
  tensor_count = cur.read<uint64_t>([] { return "header (tensor count)"; });
  kv_count = cur.read<uint64_t>([] { return "header (metadata count)"; });
}

void read_alignment(GgufContents& out, std::string_view file) {
  const tessera_value* v = out.metadata.find("general.alignment");
  if (v == nullptr) return;
  if (v->type != TESSERA_VALUE_UINT32) {
    const char* name = value_type_name(v->type);
    fail(file, std::string("metadata 'general.alignment' has type ") + (name ? name : "?") + ", expected UINT32");
  }
  if (v->as.u == 0 || (v->as.u & (v->as.u - 1)) != 0)
    fail(file, "metadata 'general.alignment' is " + std::to_string(v->as.u) + ", expected a power of two > 0");
  out.alignment = v->as.u;
}

TensorRecord read_tensor_info(ByteCursor& cur, uint64_t index) {
  TensorRecord t;
  const std::string_view name = cur.string([&] { return "name of tensor " + std::to_string(index); });
  t.name.assign(name);
  auto where = [&t] { return "tensor '" + t.name + "'"; };
  if (name.empty()) fail(cur.file(), "tensor " + std::to_string(index) + " has an empty name, expected a name");
  if (name.find('\0') != std::string_view::npos)
    fail(cur.file(), "tensor " + std::to_string(index) + ": name contains a NUL byte");
  t.n_dims = cur.read<uint32_t>([&] { return where() + " n_dims"; });
  if (t.n_dims == 0 || t.n_dims > kMaxTensorDims)
    fail(cur.file(), where() + ": n_dims is " + std::to_string(t.n_dims) + ", expected 1.." +
                         std::to_string(kMaxTensorDims));
  for (uint32_t d = 0; d < t.n_dims; ++d)
    t.dims[d] = cur.read<uint64_t>([&] { return where() + " dims[" + std::to_string(d) + "]"; });
  const uint32_t type = cur.read<uint32_t>([&] { return where() + " type"; });
  t.dtype = static_cast<int32_t>(type);
  t.offset = cur.read<uint64_t>([&] { return where() + " offset"; });
  return t;
}

// Aligned, inside the data section, not overlapping: checked after the
// data section start is known.
void check_placement(const GgufContents& out, std::string_view file) {
  std::vector<const TensorRecord*> by_offset;
  by_offset.reserve(out.tensors.size());
  for (const TensorRecord& t : out.tensors) {
    if (t.offset % out.alignment != 0)
      fail(file, "tensor '" + t.name + "': offset " + std::to_string(t.offset) + " is not a multiple of alignment " +
                     std::to_string(out.alignment));
    if (t.offset > out.data_size || t.n_bytes > out.data_size - t.offset)
      fail(file, "tensor '" + t.name + "': data at offset " + std::to_string(t.offset) + " + " +
                     std::to_string(t.n_bytes) + " bytes lies outside the data section of " +
                     std::to_string(out.data_size) + " bytes (file truncated or offset corrupt)");
    if (t.n_bytes != 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorRecord* a, const TensorRecord* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorRecord& prev = *by_offset[i - 1];
    const TensorRecord& next = *by_offset[i];
    if (next.offset < prev.offset + prev.n_bytes)
      fail(file, "tensor '" + next.name + "': data at offset " + std::to_string(next.offset) +
                     " overlaps tensor '" + prev.name + "' (offset " + std::to_string(prev.offset) + ", " +
                     std::to_string(prev.n_bytes) + " bytes); expected offset >= " +
                     std::to_string(prev.offset + prev.n_bytes));
  }
}

}  // namespace

GgufContents parse_gguf(const uint8_t* data, uint64_t size, std::string_view file) {
  GgufContents out;
  ByteCursor cur(data, size, file);
  uint64_t tensor_count = 0;
  uint64_t kv_count = 0;
  read_header(cur, out, tensor_count, kv_count);
  out.metadata.parse(cur, kv_count);
  read_alignment(out, file);

  // The smallest tensor info (1-byte name, one dim) takes 33 bytes.
  constexpr uint64_t kMinTensorInfo = 8 + 1 + 4 + 8 + 4 + 8;
  if (tensor_count > cur.remaining() / kMinTensorInfo)
    fail(file, "tensor count " + std::to_string(tensor_count) + " needs at least " +
                   (tensor_count > UINT64_MAX / kMinTensorInfo ? std::string("2^64")
                                                               : std::to_string(tensor_count * kMinTensorInfo)) +
                   " bytes of tensor infos, the file has " + std::to_string(cur.remaining()) + " left");
  out.tensors.reserve(tensor_count);
  std::unordered_map<std::string_view, uint64_t> names;
  names.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    TensorRecord t = read_tensor_info(cur, i);
    compute_tensor_bytes(t, file);
    out.tensors.push_back(std::move(t));
  }
  // Names are checked once the vector no longer moves its strings.
  for (uint64_t i = 0; i < out.tensors.size(); ++i) {
    const auto [it, inserted] = names.emplace(out.tensors[i].name, i);
    if (!inserted)
      fail(file, "tensor '" + out.tensors[i].name + "' appears twice (tensors " + std::to_string(it->second) +
                     " and " + std::to_string(i) + "), expected unique names");
  }

  // pos < size <= 2^63 in practice and alignment <= 2^32: no overflow.
  const uint64_t pos = cur.position();
  out.data_offset = (pos + out.alignment - 1) / out.alignment * out.alignment;
  if (out.data_offset > size) {
    if (!out.tensors.empty())
      fail(file, "truncated: the data section starts at byte " + std::to_string(out.data_offset) +
                     " (header end " + std::to_string(pos) + " aligned to " + std::to_string(out.alignment) +
                     "), the file has " + std::to_string(size) + " bytes");
    out.data_offset = size;  // a tensor-less file may omit the padding
  }
  out.data_size = size - out.data_offset;
  check_placement(out, file);
  return out;
}

}  // namespace tessera::gguf
