/*
 * A compute plugin with two small fake GPUs, for testing the core's memory
 * check without a GPU: device 0 has 512 MiB free, device 1 has 768 MiB.
 * Buffers live in host memory, but an allocation beyond a device's free
 * memory fails as it would on a real card, and the number of allocations
 * made so far is exported so a test can tell that nothing was allocated. It runs no op,
 * so a pipeline that passes the memory check stops at the KV cache check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/tessera.h"

#define MIB (1024ull * 1024ull)
static const uint64_t kDeviceFree[2] = {512 * MIB, 768 * MIB};

typedef struct small_backend {
  int32_t device;
  uint64_t used;
} small_backend;

typedef struct small_buffer {
  small_backend* backend;
  uint64_t size;
  unsigned char* bytes;
} small_buffer;

static int g_allocations;

/* Read by the test through dlsym. */
TESSERA_PLUGIN_EXPORT int small_device_allocations(void) { return g_allocations; }

static int32_t device_count(void* state) {
  (void)state;
  return 2;
}

static tessera_status device_info(void* state, int32_t device, tessera_device_info* info, tessera_error* err) {
  (void)state;
  if (device < 0 || device > 1) return tessera_error_set(err, TESSERA_ERR_NOT_FOUND, "no small device %d", device);
  memset(info->name, 0, sizeof info->name);
  snprintf(info->name, sizeof info->name, "small device %d", (int)device);
  info->type = TESSERA_DEVICE_GPU;
  info->memory_total = 2 * kDeviceFree[device];
  info->memory_free = kDeviceFree[device];
  return TESSERA_OK;
}

static tessera_status backend_create(void* state, int32_t device, const tessera_config* config, tessera_backend** out,
                                     tessera_error* err) {
  small_backend* backend;
  (void)state;
  (void)config;
  if (device < 0 || device > 1) return tessera_error_set(err, TESSERA_ERR_NOT_FOUND, "no small device %d", device);
  backend = (small_backend*)calloc(1, sizeof *backend);
  if (backend == NULL) return tessera_error_set(err, TESSERA_ERR_OUT_OF_MEMORY, "out of host memory");
  backend->device = device;
  *out = (tessera_backend*)backend;
  return TESSERA_OK;
}

static void backend_free(tessera_backend* backend) { free(backend); }

static int supports_op(const tessera_backend* backend, int32_t op, int32_t dtype) {
  (void)backend;
  (void)op;
  (void)dtype;
  return 0;
}

static tessera_status buffer_alloc(tessera_backend* b, uint64_t size, tessera_buffer** out, tessera_error* err) {
  small_backend* backend = (small_backend*)b;
  small_buffer* buffer;
  if (backend->used + size > kDeviceFree[backend->device])
    return tessera_error_set(err, TESSERA_ERR_OUT_OF_MEMORY, "small device %d: cannot allocate %llu bytes",
                             (int)backend->device, (unsigned long long)size);
  buffer = (small_buffer*)calloc(1, sizeof *buffer);
  if (buffer == NULL) return tessera_error_set(err, TESSERA_ERR_OUT_OF_MEMORY, "out of host memory");
  buffer->bytes = (unsigned char*)malloc(size > 0 ? size : 1);
  if (buffer->bytes == NULL) {
    free(buffer);
    return tessera_error_set(err, TESSERA_ERR_OUT_OF_MEMORY, "out of host memory");
  }
  buffer->backend = backend;
  buffer->size = size;
  backend->used += size;
  ++g_allocations;
  *out = (tessera_buffer*)buffer;
  return TESSERA_OK;
}

static void buffer_free(tessera_buffer* b) {
  small_buffer* buffer = (small_buffer*)b;
  if (buffer == NULL) return;
  buffer->backend->used -= buffer->size;
  free(buffer->bytes);
  free(buffer);
}

static void* buffer_base(tessera_buffer* b) { return ((small_buffer*)b)->bytes; }

static tessera_status buffer_write(tessera_buffer* b, uint64_t offset, const void* src, uint64_t size,
                                   tessera_error* err) {
  small_buffer* buffer = (small_buffer*)b;
  if (offset > buffer->size || size > buffer->size - offset)
    return tessera_error_set(err, TESSERA_ERR_OUT_OF_RANGE, "write past the end of a small-device buffer");
  memcpy(buffer->bytes + offset, src, size);
  return TESSERA_OK;
}

static tessera_status buffer_read(tessera_buffer* b, uint64_t offset, void* dst, uint64_t size, tessera_error* err) {
  small_buffer* buffer = (small_buffer*)b;
  if (offset > buffer->size || size > buffer->size - offset)
    return tessera_error_set(err, TESSERA_ERR_OUT_OF_RANGE, "read past the end of a small-device buffer");
  memcpy(dst, buffer->bytes + offset, size);
  return TESSERA_OK;
}

static tessera_status graph_execute(tessera_backend* backend, const tessera_graph* graph, tessera_error* err) {
  (void)backend;
  (void)graph;
  return tessera_error_set(err, TESSERA_ERR_UNSUPPORTED, "the small device runs no op");
}

static tessera_status synchronize(tessera_backend* backend, tessera_error* err) {
  (void)backend;
  (void)err;
  return TESSERA_OK;
}

static void* native_context(tessera_backend* backend) {
  (void)backend;
  return NULL;
}

static const tessera_compute_interface g_compute = {
    sizeof(tessera_compute_interface), device_count, device_info, backend_create, backend_free, supports_op,
    buffer_alloc, buffer_free, buffer_base, buffer_write, buffer_read, graph_execute, synchronize, native_context,
    NULL /* buffer_wrap_host: a device, not host memory */};

static tessera_status initialize(const tessera_host_api* host, void** state, tessera_error* err) {
  (void)host;
  (void)err;
  *state = NULL;
  return TESSERA_OK;
}

static void shutdown(void* state) { (void)state; }

static const tessera_plugin_descriptor g_descriptor = {sizeof(tessera_plugin_descriptor),
                                                       TESSERA_ABI_VERSION_MAJOR,
                                                       TESSERA_ABI_VERSION_MINOR,
                                                       TESSERA_KIND_COMPUTE,
                                                       "small_device",
                                                       "1.0.0",
                                                       "two fake GPUs with little memory (memory check tests)",
                                                       0,
                                                       NULL,
                                                       initialize,
                                                       shutdown,
                                                       NULL,
                                                       &g_compute,
                                                       NULL,
                                                       NULL,
                                                       "tessera developers",
                                                       "Apache-2.0"};

TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) { return &g_descriptor; }
