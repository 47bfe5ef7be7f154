// Host-memory buffers: 64-byte aligned, bounds-checked reads and writes; or
// the caller's memory wrapped in place, read-only.
#pragma once

#include <cstdint>

#include "backend.hpp"

namespace tessera::cpu {

tessera_buffer* buffer_alloc(tessera_backend& backend, uint64_t size);
// The caller's read-only host memory as a buffer, without a copy; refuses
// NULL and memory aligned below kWrapAlignment (the host then copies).
tessera_buffer* buffer_wrap_host(tessera_backend& backend, const void* host, uint64_t size);
void buffer_free(tessera_buffer* buffer) noexcept;

// Throws sdk::Error naming `what` for a NULL or foreign handle.
tessera_buffer& checked(tessera_buffer* buffer, const char* what);

// Throws sdk::Error(OUT_OF_RANGE) unless [offset, offset + size) lies inside
// the buffer; overflow-safe for any 64-bit values.
void check_range(const tessera_buffer& buffer, uint64_t offset, uint64_t size, const char* what);

void buffer_write(tessera_buffer& buffer, uint64_t offset, const void* src, uint64_t size);
void buffer_read(const tessera_buffer& buffer, uint64_t offset, void* dst, uint64_t size);

}  // namespace tessera::cpu
