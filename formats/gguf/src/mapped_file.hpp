// A whole file mapped read-only into memory (POSIX mmap): tensor data is
// handed out in place, never copied at load.
#pragma once

#include <cstdint>
#include <string>

namespace tessera::gguf {

class MappedFile {
 public:
  // Throws sdk::Error(TESSERA_ERR_IO) naming the path and the OS error.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // nullptr for an empty file.
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace tessera::gguf
