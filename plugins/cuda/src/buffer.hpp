// Device buffers: cudaMalloc'd memory on the backend's GPU; reads and writes
// go through the backend's stream, so they are ordered with queued kernels.
#pragma once

#include <cstdint>

#include "backend.hpp"

namespace tessera::cuda {

tessera_buffer* buffer_alloc(tessera_backend& backend, uint64_t size);
void buffer_free(tessera_buffer* buffer) noexcept;
void buffer_write(tessera_buffer& buffer, uint64_t offset, const void* src, uint64_t size);
void buffer_read(tessera_buffer& buffer, uint64_t offset, void* dst, uint64_t size);

}  // namespace tessera::cuda
