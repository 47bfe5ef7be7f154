// Writes GGUF version 3 files: metadata of every value type, tensor infos,
// and aligned tensor data streamed tensor by tensor (so a 70B model never
// has to fit in memory).
//
// File layout (GGUF spec): "GGUF", u32 version, u64 tensor count, u64 kv
// count; each kv as (string key, u32 type, value); each tensor info as
// (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset
// relative to the data section); zero padding to `general.alignment`; the
// data section with every tensor starting at a multiple of the alignment.
// Strings are u64 length + bytes; arrays are u32 element type + u64 count +
// elements. Everything little-endian.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tessera/core/metadata_value.hpp"

namespace tessera {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32);

  // Metadata, kept in insertion order; setting a key twice replaces it.
  void set(const std::string& key, MetadataValue value);
  // Declares a tensor; returns its index. Data follows in declaration order.
  std::size_t add_tensor(const std::string& name, int32_t dtype, std::vector<uint64_t> dims);
  uint64_t tensor_bytes(std::size_t index) const { return tensors_.at(index).n_bytes; }

  // Writes the header and tensor infos. Throws tessera::Error on I/O errors.
  void begin(const std::filesystem::path& path);
  // Appends the data of the next tensor (exactly tensor_bytes() bytes, may be
  // given in several calls).
  void write(const void* data, uint64_t size);
  // Checks that every tensor was written completely and closes the file.
  void finish();

 private:
  struct Tensor {
    std::string name;
    int32_t dtype;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
    uint64_t offset;
  };
  void write_value(const MetadataValue& value);
  void write_string(const std::string& s);
  template <class T>
  void put(T value) {
    out_.write(reinterpret_cast<const char*>(&value), sizeof value);
  }
  void pad();

  uint32_t alignment_;
  std::vector<std::pair<std::string, MetadataValue>> metadata_;
  std::vector<Tensor> tensors_;
  uint64_t data_size_ = 0;
  std::ofstream out_;
  std::filesystem::path path_;
  std::size_t current_ = 0;
  uint64_t written_in_current_ = 0;
};

}  // namespace tessera
