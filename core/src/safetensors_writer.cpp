#include "tessera/core/safetensors_writer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tessera/core/error.hpp"

namespace tessera {
namespace {

uint64_t dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  throw Error(fmt::format("safetensors writer: unknown dtype '{}'", dtype), TESSERA_ERR_INVALID_ARGUMENT);
}

// Tensor names are written as JSON strings: only characters that need no
// escaping are accepted (model tensor names are plain ASCII).
void check_name(const std::string& name) {
  for (char c : name)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      throw Error(fmt::format("safetensors writer: tensor name '{}' needs JSON escaping", name),
                  TESSERA_ERR_INVALID_ARGUMENT);
}

}  // namespace

void SafetensorsWriter::add_tensor(const std::string& name, const std::string& dtype, const std::vector<uint64_t>& shape) {
  check_name(name);
  uint64_t bytes = dtype_size(dtype);
  for (uint64_t d : shape) bytes *= d;
  tensors_.push_back({name, dtype, shape, bytes});
}

void SafetensorsWriter::begin(const std::filesystem::path& path) {
  std::string header = "{";
  uint64_t at = 0;
  for (const Declared& t : tensors_) {
    header += fmt::format("{}\"{}\":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}", header.size() == 1 ? "" : ",",
                          t.name, t.dtype, fmt::join(t.shape, ","), at, at + t.bytes);
    at += t.bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  expected_ = at;
  written_ = 0;
  path_ = path;
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) throw Error(fmt::format("{}: cannot create", path.string()), TESSERA_ERR_IO);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  out_.write(reinterpret_cast<const char*>(length), 8);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
}

void SafetensorsWriter::write(const void* data, uint64_t size) {
  if (written_ + size > expected_)
    throw Error(fmt::format("{}: {} bytes written, more than the {} declared", path_.string(), written_ + size, expected_),
                TESSERA_ERR_INTERNAL);
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  written_ += size;
}

void SafetensorsWriter::finish() {
  if (written_ != expected_)
    throw Error(fmt::format("{}: {} bytes written, {} declared", path_.string(), written_, expected_), TESSERA_ERR_INTERNAL);
  out_.close();
  if (!out_) throw Error(fmt::format("{}: write failed", path_.string()), TESSERA_ERR_IO);
}

}  // namespace tessera
