// A bounds-checked little-endian reader over a byte buffer. Every read first
// checks the bytes left, so hostile counts and lengths can never move it past
// the end; failures throw sdk::Error(TESSERA_ERR_FORMAT) naming the file, the
// field being read and the byte position.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "tessera/cpp/plugin.hpp"

namespace tessera::gguf {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader hands out little-endian data in place; port the cursor and the "
              "array `data` pointers before building on a big-endian host");

class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, uint64_t size, std::string_view file) : data_(data), size_(size), file_(file) {}

  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  uint64_t size() const { return size_; }
  const uint8_t* here() const { return data_ + pos_; }
  std::string_view file() const { return file_; }

  // `what` is called only on failure, so callers can describe the field
  // lazily (no string building on the hot path).
  template <class What>
  void need(uint64_t n, What&& what) const {
    if (n > remaining())
      throw sdk::Error(TESSERA_ERR_FORMAT, std::string(file_) + ": truncated " + std::string(what()) + " at byte " +
                                               std::to_string(pos_) + ": needs " + std::to_string(n) +
                                               " bytes, the file has " + std::to_string(remaining()) + " left");
  }

  template <class T, class What>
  T read(What&& what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  template <class What>
  void skip(uint64_t n, What&& what) {
    need(n, what);
    pos_ += n;
  }

  // A GGUF string: uint64 length, then that many bytes (not NUL-terminated).
  template <class What>
  std::string_view string(What&& what) {
    const uint64_t length = read<uint64_t>(what);
    if (length > remaining())
      throw sdk::Error(TESSERA_ERR_FORMAT, std::string(file_) + ": " + std::string(what()) + " at byte " +
                                               std::to_string(pos_ - 8) + " has length " + std::to_string(length) +
                                               ", larger than the " + std::to_string(remaining()) +
                                               " bytes left in the file");
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
    pos_ += length;
    return s;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string_view file_;
};

}  // namespace tessera::gguf
