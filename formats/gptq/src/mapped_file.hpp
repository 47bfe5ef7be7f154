// A whole file mapped read-only (POSIX mmap): tensors that need no
// conversion are handed out in place, never copied at load.
#pragma once

#include <cstdint>
#include <string>

namespace tessera::gptq {

class MappedFile {
 public:
  // Throws sdk::Error(TESSERA_ERR_IO) naming the path and the OS error.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // nullptr for an empty file
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace tessera::gptq
