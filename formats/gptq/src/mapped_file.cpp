#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tessera/cpp/plugin.hpp"

namespace tessera::gptq {
namespace {

[[noreturn]] void io_error(const std::string& path, const char* what, int error) {
  throw sdk::Error(TESSERA_ERR_IO, path + ": " + what + ": " + std::strerror(error));
}

// Closes the descriptor on every path out of the constructor.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  FdGuard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) io_error(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) io_error(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) throw sdk::Error(TESSERA_ERR_IO, path + ": is not a regular file");
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) return;  // mmap refuses length 0; the parser reports it
  void* p = ::mmap(nullptr, static_cast<size_t>(size_), PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (p == MAP_FAILED) io_error(path, "cannot map", errno);
  data_ = static_cast<const uint8_t*>(p);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
}

}  // namespace tessera::gptq
