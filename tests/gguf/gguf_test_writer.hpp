// A tiny GGUF writer for tests, written from the public GGUF spec and
// independent of the reader: it builds valid files and records where every
// field landed, so tests can turn a valid file into a hostile one by patching
// bytes in place.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera::test::gguf {

using Bytes = std::vector<uint8_t>;

// GGUF metadata value type ids (spec numbering).
enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6,
  kBool = 7, kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12
};

// ggml type ids the writer knows the block geometry of (its own table).
enum GgmlType : uint32_t { kTF32 = 0, kTF16 = 1, kTQ4_0 = 2, kTQ8_0 = 8, kTQ4_K = 12, kTQ6_K = 14, kTI8 = 24 };

template <class T>
void put(Bytes& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}
inline void put_string(Bytes& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// Encoded value payloads (what follows the uint32 value type of a KV).
template <class T>
Bytes scalar(T value) {
  Bytes b;
  put(b, value);
  return b;
}
inline Bytes string_value(const std::string& s) {
  Bytes b;
  put_string(b, s);
  return b;
}
template <class T>
Bytes array_value(uint32_t element_type, const std::vector<T>& items) {
  Bytes b;
  put<uint32_t>(b, element_type);
  put<uint64_t>(b, items.size());
  for (const T& x : items) put(b, x);
  return b;
}
inline Bytes string_array(const std::vector<std::string>& items) {
  Bytes b;
  put<uint32_t>(b, kString);
  put<uint64_t>(b, items.size());
  for (const auto& s : items) put_string(b, s);
  return b;
}
// An ARRAY of ARRAYs; each inner payload is itself an array_value/... result.
inline Bytes array_of_arrays(const std::vector<Bytes>& inner) {
  Bytes b;
  put<uint32_t>(b, kArray);
  put<uint64_t>(b, inner.size());
  for (const auto& x : inner) b.insert(b.end(), x.begin(), x.end());
  return b;
}

struct TensorSpec {
  TensorSpec(std::string n, std::vector<uint64_t> d, uint32_t t) : name(std::move(n)), dims(std::move(d)), type(t) {}
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = kTF32;
  std::optional<uint64_t> offset;   // relative to the data section; default: packed, aligned
  std::optional<uint64_t> n_bytes;  // default: from the writer's own type table
};

class Writer {
 public:
  explicit Writer(uint32_t version = 3, uint64_t alignment = 32) : version_(version), alignment_(alignment) {}

  Writer& kv(const std::string& key, uint32_t type, Bytes payload) {
    kvs_.push_back({key, type, std::move(payload)});
    return *this;
  }
  Writer& tensor(TensorSpec spec) {
    tensors_.push_back(std::move(spec));
    return *this;
  }

  static uint64_t type_bytes(uint32_t type, uint64_t elements) {
    switch (type) {
      case kTF32: return elements * 4;
      case kTF16: return elements * 2;
      case kTI8: return elements;
      case kTQ4_0: return elements / 32 * 18;
      case kTQ8_0: return elements / 32 * 34;
      case kTQ4_K: return elements / 256 * 144;
      case kTQ6_K: return elements / 256 * 210;
      default: return 0;
    }
  }

  // The whole file. Tensor data bytes are (tensor index * 31 + byte) mod 251.
  Bytes build() {
    Bytes out;
    where_.clear();
    out.insert(out.end(), {'G', 'G', 'U', 'F'});
    mark(out, "version");
    put<uint32_t>(out, version_);
    mark(out, "tensor_count");
    put<uint64_t>(out, tensors_.size());
    mark(out, "kv_count");
    put<uint64_t>(out, kvs_.size());
    for (const auto& k : kvs_) {
      mark(out, "kv." + k.key + ".key_length");
      put_string(out, k.key);
      mark(out, "kv." + k.key + ".type");
      put<uint32_t>(out, k.type);
      mark(out, "kv." + k.key + ".value");
      out.insert(out.end(), k.payload.begin(), k.payload.end());
    }
    std::vector<uint64_t> sizes, offsets;
    uint64_t next = 0;
    for (const auto& t : tensors_) {
      uint64_t elements = 1;
      for (uint64_t d : t.dims) elements *= d;
      sizes.push_back(t.n_bytes.value_or(type_bytes(t.type, elements)));
      offsets.push_back(t.offset.value_or(next));
      next = align(offsets.back() + sizes.back());
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const auto& t = tensors_[i];
      const std::string p = "tensor." + t.name;
      mark(out, p + ".name_length");
      put_string(out, t.name);
      mark(out, p + ".n_dims");
      put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
      mark(out, p + ".dims");
      for (uint64_t d : t.dims) put<uint64_t>(out, d);
      mark(out, p + ".type");
      put<uint32_t>(out, t.type);
      mark(out, p + ".offset");
      put<uint64_t>(out, offsets[i]);
    }
    out.resize(align(out.size()), 0);
    const uint64_t data_start = out.size();
    where_["data"] = data_start;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const uint64_t end = data_start + offsets[i] + sizes[i];
      if (out.size() < end) out.resize(end, 0);
      for (uint64_t b = 0; b < sizes[i]; ++b)
        out[data_start + offsets[i] + b] = static_cast<uint8_t>((i * 31 + b) % 251);
    }
    if (!tensors_.empty()) out.resize(align(out.size()), 0);
    return out;
  }

  // Byte position of a field recorded by the last build(): "version",
  // "tensor_count", "kv_count", "kv.KEY.key_length|type|value",
  // "tensor.NAME.name_length|n_dims|dims|type|offset", "data".
  size_t at(const std::string& field) const { return where_.at(field); }

 private:
  struct Kv {
    std::string key;
    uint32_t type;
    Bytes payload;
  };
  uint64_t align(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }
  void mark(const Bytes& out, const std::string& field) { where_[field] = out.size(); }

  uint32_t version_;
  uint64_t alignment_;
  std::vector<Kv> kvs_;
  std::vector<TensorSpec> tensors_;
  std::map<std::string, size_t> where_;
};

template <class T>
void patch(Bytes& file, size_t pos, T value) {
  std::memcpy(file.data() + pos, &value, sizeof(T));
}

// A small valid model: every scalar type, strings, numeric/string/nested
// arrays, and three tensors of different types.
inline Writer small_model() {
  Writer w;
  w.kv("general.architecture", kString, string_value("llama"))
      .kv("general.alignment", kU32, scalar<uint32_t>(32))
      .kv("test.u8", kU8, scalar<uint8_t>(200))
      .kv("test.i8", kI8, scalar<int8_t>(-100))
      .kv("test.u16", kU16, scalar<uint16_t>(60000))
      .kv("test.i16", kI16, scalar<int16_t>(-30000))
      .kv("test.u32", kU32, scalar<uint32_t>(4000000000u))
      .kv("test.i32", kI32, scalar<int32_t>(-2000000000))
      .kv("test.f32", kF32, scalar<float>(0.5f))
      .kv("test.bool", kBool, scalar<uint8_t>(1))
      .kv("test.u64", kU64, scalar<uint64_t>(1ull << 60))
      .kv("test.i64", kI64, scalar<int64_t>(-(1ll << 60)))
      .kv("test.f64", kF64, scalar<double>(-2.25))
      .kv("test.floats", kArray, array_value<float>(kF32, {1.0f, -2.0f, 3.5f}))
      .kv("test.bools", kArray, array_value<uint8_t>(kBool, {1, 0, 1}))
      .kv("test.strings", kArray, string_array({"a", "", "hello"}))
      .kv("test.nested", kArray,
          array_of_arrays({array_value<int32_t>(kI32, {1, 2}), string_array({"x"}), array_value<int32_t>(kI32, {})}));
  w.tensor({"token_embd.weight", {64, 4}, kTQ8_0})
      .tensor({"blk.0.attn_q.weight", {256, 2}, kTQ4_K})
      .tensor({"output_norm.weight", {64}, kTF32});
  return w;
}

// Writes `bytes` to `path` (creating directories).
inline void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace tessera::test::gguf
