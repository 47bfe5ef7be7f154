// tessera/cpp/mapped_file.hpp - optional header-only helper for format
// plugins (POSIX): a whole file mapped read-only into memory, so tensor data
// is handed out in place, never copied at load.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "tessera/cpp/plugin.hpp"

namespace tessera::sdk {

class MappedFile {
 public:
  // Throws Error(TESSERA_ERR_IO) naming the path and the OS error. With
  // `expected` ("a .gguf file"), a directory is refused saying what was
  // expected instead of as "not a regular file".
  explicit MappedFile(const std::string& path, const char* expected = nullptr) : path_(path) {
    Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (fd.fd < 0) io_error("cannot open", errno);
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0) io_error("cannot stat", errno);
    if (expected != nullptr && S_ISDIR(st.st_mode))
      throw Error(TESSERA_ERR_IO, path + ": is a directory, expected " + expected);
    if (!S_ISREG(st.st_mode)) throw Error(TESSERA_ERR_IO, path + ": is not a regular file");
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ == 0) return;  // mmap refuses length 0; the parser reports it
    void* p = ::mmap(nullptr, static_cast<size_t>(size_), PROT_READ, MAP_PRIVATE, fd.fd, 0);
    if (p == MAP_FAILED) io_error("cannot map", errno);
    data_ = static_cast<const uint8_t*>(p);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // nullptr for an empty file
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  // Closes the descriptor on every path out of the constructor.
  struct Fd {
    int fd;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  };
  [[noreturn]] void io_error(const char* what, int error) const {
    throw Error(TESSERA_ERR_IO, path_ + ": " + what + ": " + std::strerror(error));
  }

  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Advice about bytes of a read-only file mapping (a MappedFile's, or one a
// format plugin handed out). Only advice: failures are ignored.

// About to read these bytes: one large read-ahead instead of a page fault
// per few pages when the file is not in the page cache yet.
inline void advise_will_need(const void* mapped, uint64_t size) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto address = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t first = address / page * page;
  if (size > 0) (void)::madvise(reinterpret_cast<void*>(first), static_cast<size_t>(address + size - first), MADV_WILLNEED);
}

// Done with these bytes (their contents were copied or converted elsewhere):
// drop them from the process's resident set. The file stays in the page
// cache and a later read faults them in again, so this is safe while others
// still read them. Only whole pages inside the range: a neighbouring tensor
// may be in use in place.
inline void release_resident(const void* mapped, uint64_t size) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto address = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t first = (address + page - 1) / page * page;
  const uintptr_t last = (address + size) / page * page;
  if (last > first) (void)::madvise(reinterpret_cast<void*>(first), static_cast<size_t>(last - first), MADV_DONTNEED);
}

}  // namespace tessera::sdk
