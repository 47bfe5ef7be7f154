#include "buffer.hpp"

#include <new>
#include <string>

#include "cuda_check.hpp"

namespace tessera::cuda {
namespace {

void check_range(const tessera_buffer& buffer, uint64_t offset, uint64_t size, const char* what) {
  if (buffer.backend == nullptr)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     std::string(what) + ": the buffer's backend was freed (free buffers before their backend)");
  if (offset > buffer.size || size > buffer.size - offset)
    throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, std::string(what) + ": bytes [" + std::to_string(offset) + ", " +
                                                   std::to_string(offset) + " + " + std::to_string(size) +
                                                   ") lie outside the buffer of " + std::to_string(buffer.size) +
                                                   " bytes");
}

std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  return text;
}

}  // namespace

tessera_buffer* buffer_alloc(tessera_backend& backend, uint64_t size) {
  DeviceGuard guard(backend.device, "buffer_alloc");
  void* data = nullptr;
  // A 0-byte buffer still gets a distinct, valid address.
  const cudaError_t e = cudaMalloc(&data, static_cast<size_t>(size == 0 ? 256 : size));
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_bytes = 0, total = 0;
    std::string available;
    if (cudaMemGetInfo(&free_bytes, &total) == cudaSuccess) available = "; " + gib(free_bytes) + " of " + gib(total) + " free";
    throw sdk::Error(status_of(e), "buffer_alloc: cannot allocate " + std::to_string(size) + " bytes (" + gib(size) +
                                       ") on GPU " + std::to_string(backend.device) + available +
                                       ": CUDA error: " + cuda_error_text(e));
  }
  auto* buffer = new (std::nothrow) tessera_buffer;
  if (buffer == nullptr) {
    (void)cudaFree(data);
    throw sdk::Error(TESSERA_ERR_OUT_OF_MEMORY, "buffer_alloc: out of host memory");
  }
  try {
    backend.buffers.insert(buffer);
  } catch (const std::bad_alloc&) {
    (void)cudaFree(data);
    delete buffer;
    throw sdk::Error(TESSERA_ERR_OUT_OF_MEMORY, "buffer_alloc: out of host memory");
  }
  buffer->backend = &backend;
  buffer->device = backend.device;
  buffer->data = static_cast<uint8_t*>(data);
  buffer->size = size;
  return buffer;
}

void buffer_free(tessera_buffer* buffer) noexcept {
  if (buffer == nullptr || buffer->magic != kBufferMagic) return;
  buffer->magic = 0;
  int previous = buffer->device;
  (void)cudaGetDevice(&previous);
  (void)cudaSetDevice(buffer->device);
  // Kernels still queued may read it, and a captured graph may point at it.
  if (buffer->backend != nullptr) {
    (void)cudaStreamSynchronize(buffer->backend->stream);
    buffer->backend->graphs.reset();
    buffer->backend->buffers.erase(buffer);
  }
  (void)cudaFree(buffer->data);
  (void)cudaSetDevice(previous);
  delete buffer;
}

void buffer_write(tessera_buffer& buffer, uint64_t offset, const void* src, uint64_t size) {
  check_range(buffer, offset, size, "buffer_write");
  if (size == 0) return;
  if (src == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "buffer_write: source pointer is NULL");
  buffer.gptq_checked.clear();
  tessera_backend& backend = *buffer.backend;
  DeviceGuard guard(buffer.device, "buffer_write");
  // On the backend's stream (ordered after queued kernels), then waited for:
  // the caller may free or reuse `src` (e.g. a mapped weight) on return.
  cuda_check(cudaMemcpyAsync(buffer.data + offset, src, static_cast<size_t>(size), cudaMemcpyHostToDevice, backend.stream),
             "buffer_write: cudaMemcpyAsync of " + std::to_string(size) + " bytes");
  cuda_check(cudaStreamSynchronize(backend.stream), "buffer_write: cudaStreamSynchronize");
}

void buffer_read(tessera_buffer& buffer, uint64_t offset, void* dst, uint64_t size) {
  check_range(buffer, offset, size, "buffer_read");
  if (size == 0) return;
  if (dst == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "buffer_read: destination pointer is NULL");
  tessera_backend& backend = *buffer.backend;
  DeviceGuard guard(buffer.device, "buffer_read");
  cuda_check(cudaMemcpyAsync(dst, buffer.data + offset, static_cast<size_t>(size), cudaMemcpyDeviceToHost, backend.stream),
             "buffer_read: cudaMemcpyAsync of " + std::to_string(size) + " bytes");
  cuda_check(cudaStreamSynchronize(backend.stream), "buffer_read: cudaStreamSynchronize");
}

}  // namespace tessera::cuda
