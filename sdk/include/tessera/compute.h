/*
 * tessera/compute.h - compute plugins: devices, buffers and graph execution.
 *
 * A compute plugin exposes one or more devices. The host creates a backend
 * (one per device it uses) from the pipeline's `compute:` entry, allocates
 * buffers on it, uploads weights and executes graphs of tessera_node.
 *
 * Ownership: backend_create -> backend_free, buffer_alloc -> buffer_free,
 * all through the same plugin, a backend's buffers before the backend (a
 * plugin may refuse a buffer that outlives its backend, but must not crash
 * on it). Tensors and graphs are owned by the caller and only borrowed for
 * the duration of the call.
 *
 * Thread safety: device_count/device_info are thread-safe. backend_create
 * and backend_free are thread-safe too: libtessera creates a pipeline's
 * backends one after another on the loading thread, but an application may
 * load several pipelines at once over one plugin registry, so both may run
 * concurrently (same or different device). A plugin must therefore only
 * read `plugin_state` there, or lock what it changes. A backend and its
 * buffers are used by one host thread at a time (the host serialises calls
 * per backend); different backends may be driven from different threads.
 * supports_op is thread-safe.
 */
#ifndef TESSERA_COMPUTE_H
#define TESSERA_COMPUTE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/host.h"
#include "tessera/status.h"
#include "tessera/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessera_backend tessera_backend; /* opaque, plugin-owned */
typedef struct tessera_buffer tessera_buffer;   /* opaque, plugin-owned */

typedef enum tessera_device_type {
  TESSERA_DEVICE_CPU = 0,
  TESSERA_DEVICE_GPU = 1,
  TESSERA_DEVICE_OTHER = 2
} tessera_device_type;

/* Capability bits of a device. */
enum {
  TESSERA_CAP_AVX2 = 1u << 0,
  TESSERA_CAP_AVX512F = 1u << 1,
  TESSERA_CAP_AVX512_VNNI = 1u << 2,
  TESSERA_CAP_AVX512_BF16 = 1u << 3,
  TESSERA_CAP_F16C = 1u << 4,
  TESSERA_CAP_FMA = 1u << 5,
  TESSERA_CAP_TENSOR_CORES = 1u << 8,
  TESSERA_CAP_BF16 = 1u << 9,
  TESSERA_CAP_FP8 = 1u << 10,
  TESSERA_CAP_UNIFIED_MEMORY = 1u << 16 /* buffers are host-addressable */
};

enum { TESSERA_DEVICE_NAME_CAPACITY = 256 };

typedef struct tessera_device_info {
  size_t struct_size;
  char name[TESSERA_DEVICE_NAME_CAPACITY]; /* e.g. "NVIDIA H100 80GB HBM3" */
  tessera_device_type type;
  uint64_t memory_total; /* bytes */
  uint64_t memory_free;  /* bytes, at the time of the call */
  uint32_t capabilities; /* TESSERA_CAP_* bits */
  int32_t compute_major; /* CUDA compute capability; 0 on a CPU */
  int32_t compute_minor;
  int32_t parallelism;   /* CPU threads or GPU multiprocessors */
  double memory_bandwidth_gbs; /* nominal peak, 0 when unknown */
} tessera_device_info;

/* A tensor view into a buffer of this backend. ne[0] varies fastest;
 * nb[i] is the stride of dimension i in bytes (for block-quantized dtypes
 * nb[0] is the block size and nb[1] the row size). A GPTQ tensor
 * (tessera/gptq.h) is 2-D, ne = {in_features, out_features}, nb all 0: its
 * layout and size (total_bytes) come from the header at `offset`, which is
 * 64-byte aligned. */
typedef struct tessera_tensor {
  size_t struct_size;
  int32_t dtype;          /* tessera_dtype */
  uint32_t n_dims;        /* 1..4 */
  int64_t ne[4];
  uint64_t nb[4];
  tessera_buffer* buffer; /* NULL for a tensor not yet placed */
  uint64_t offset;        /* byte offset into buffer */
  const char* name;       /* for logs and errors, may be NULL */
} tessera_tensor;

enum { TESSERA_MAX_SOURCES = 4, TESSERA_MAX_OP_PARAMS = 8 };

typedef struct tessera_node {
  size_t struct_size;
  int32_t op;             /* tessera_op */
  tessera_tensor* dst;
  tessera_tensor* src[TESSERA_MAX_SOURCES]; /* unused slots are NULL */
  int32_t i_params[TESSERA_MAX_OP_PARAMS];  /* meaning documented per op */
  float f_params[TESSERA_MAX_OP_PARAMS];
} tessera_node;

typedef struct tessera_graph {
  size_t struct_size;
  uint64_t n_nodes;
  tessera_node* const* nodes; /* executed in order */
} tessera_graph;

typedef struct tessera_compute_interface {
  size_t struct_size;

  int32_t (*device_count)(void* plugin_state);
  tessera_status (*device_info)(void* plugin_state, int32_t device,
                                tessera_device_info* info, tessera_error* err);

  /* Creates a backend on `device`, configured by the pipeline's compute entry
   * (`config`, e.g. { backend: cpu, threads: 16 }). `config` is valid only
   * during the call. Thread-safe (see the top of this file); `*out` is owned
   * by the caller until it passes it to backend_free. */
  tessera_status (*backend_create)(void* plugin_state, int32_t device,
                                   const tessera_config* config,
                                   tessera_backend** out, tessera_error* err);
  void (*backend_free)(tessera_backend* backend);

  /* Whether this backend executes `op` when its first source has dtype
   * `src_dtype` (the weight type for mul_mat/get_rows, the KV cache type for
   * attention, the source type for copy). 1 yes, 0 no. The scheduler places
   * unsupported nodes on another backend. */
  int (*supports_op)(const tessera_backend* backend, int32_t op,
                     int32_t src_dtype);

  tessera_status (*buffer_alloc)(tessera_backend* backend, uint64_t size,
                                 tessera_buffer** out, tessera_error* err);
  void (*buffer_free)(tessera_buffer* buffer);
  /* Address of the buffer's first byte in the backend's address space
   * (a device pointer on a GPU). For kernel plugins. */
  void* (*buffer_base)(tessera_buffer* buffer);
  tessera_status (*buffer_write)(tessera_buffer* buffer, uint64_t offset,
                                 const void* src, uint64_t size,
                                 tessera_error* err);
  tessera_status (*buffer_read)(tessera_buffer* buffer, uint64_t offset,
                                void* dst, uint64_t size, tessera_error* err);

  /* Executes the nodes in order. May return before the work is done on
   * asynchronous devices; `synchronize` waits. */
  tessera_status (*graph_execute)(tessera_backend* backend,
                                  const tessera_graph* graph,
                                  tessera_error* err);
  tessera_status (*synchronize)(tessera_backend* backend, tessera_error* err);

  /* The backend's execution context for kernel plugins: a cudaStream_t for
   * `cuda`, a tessera_cpu_context* for `cpu`. Owned by the backend. */
  void* (*native_context)(tessera_backend* backend);

  /* Since ABI 1.2; optional (NULL, or outside struct_size: not offered).
   * A buffer over `size` bytes of the caller's host memory at `host` (a
   * memory-mapped model file), used in place instead of copied: the weights
   * then take no second copy in RAM, and processes mapping the same file
   * share its pages. `host` must stay mapped and unchanged until
   * buffer_free, which releases only the handle. The buffer is read-only:
   * buffer_write and nodes whose dst lies in it are refused. A plugin may
   * refuse memory it cannot use in place (TESSERA_ERR_UNSUPPORTED, e.g. an
   * alignment below what its kernels need); the host then copies with
   * buffer_alloc + buffer_write. Devices that cannot address host memory
   * leave this NULL. */
  tessera_status (*buffer_wrap_host)(tessera_backend* backend, const void* host,
                                     uint64_t size, tessera_buffer** out,
                                     tessera_error* err);
} tessera_compute_interface;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_COMPUTE_H */
