// A zero-initialised, 64-byte aligned heap buffer: tensors the plugin builds
// at open time (GPTQ layouts, converted norms) live in these.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace tessera::gptq {

class OwnedBytes {
 public:
  OwnedBytes() = default;
  explicit OwnedBytes(uint64_t size) : size_(size) {
    const uint64_t rounded = (size + 63) / 64 * 64;
    if (rounded == 0) return;
    void* p = std::aligned_alloc(64, static_cast<size_t>(rounded));
    if (p == nullptr) throw std::bad_alloc();
    data_.reset(static_cast<uint8_t*>(p));
    std::fill_n(data_.get(), rounded, uint8_t{0});
  }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  uint64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  uint64_t size_ = 0;
};

}  // namespace tessera::gptq
