// tessera/cpp/abi_struct.hpp - optional header-only helpers for the
// struct_size rule of the ABI: a plugin fills a caller's struct that may be
// older (smaller) than its own, writing only the fields the caller has, and
// refuses NULL out-pointers with a message naming the entry point.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "tessera/cpp/plugin.hpp"

namespace tessera::sdk {

// Throws Error(INVALID_ARGUMENT) "function: name is NULL" when p is NULL.
template <class T>
void require_arg(T* p, const char* function, const char* name) {
  if (p == nullptr) throw Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(function) + ": " + name + " is NULL");
}

// Throws Error(INVALID_ARGUMENT) "function: name->struct_size is N; set it to
// sizeof(type_name)" when the caller's struct does not even hold struct_size
// (the caller never set it).
template <class T>
void require_struct_size(const T* s, const char* function, const char* name, const char* type_name) {
  if (s->struct_size < TESSERA_SIZE_THROUGH(T, struct_size))
    throw Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(function) + ": " + name + "->struct_size is " +
                                                  std::to_string(s->struct_size) + "; set it to sizeof(" + type_name +
                                                  ")");
}

// Copies `full` into `out` up to out->struct_size (never past sizeof(T)) and
// sets out->struct_size to the bytes written. The caller checked that
// out->struct_size covers at least struct_size itself.
template <class T>
void copy_struct_prefix(T* out, const T& full) {
  const size_t n = std::min(out->struct_size, sizeof(T));
  std::memcpy(reinterpret_cast<char*>(out) + sizeof(size_t), reinterpret_cast<const char*>(&full) + sizeof(size_t),
              n - sizeof(size_t));
  out->struct_size = n;
}

// copy_struct_prefix after checking that the caller's struct has the first
// `min_size` bytes (the fields every reader needs), else Error naming `function`.
template <class T>
void fill_struct(T* out, const T& full, size_t min_size, const char* function) {
  if (out->struct_size < min_size)
    throw Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(function) + ": struct_size is " +
                                                  std::to_string(out->struct_size) + ", expected at least " +
                                                  std::to_string(min_size));
  copy_struct_prefix(out, full);
}

}  // namespace tessera::sdk
