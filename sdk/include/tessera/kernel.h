/*
 * tessera/kernel.h - kernel plugins: override single ops of a named compute
 * backend (e.g. a faster Q4_0 mat-vec for `cpu` or `cuda`).
 *
 * A kernel plugin declares the (op, dtype) pairs it implements for one
 * backend. When the pipeline lists it under `kernels:`, the host routes those
 * nodes to `execute`, handing over the backend's own buffers (resolve them
 * with context->compute->buffer_base) and its native execution context
 * (cudaStream_t for cuda, tessera_cpu_context* for cpu).
 *
 * Ownership: create -> destroy through the same plugin; nodes and contexts
 * are borrowed for the duration of the call.
 *
 * Thread safety: `create` and `destroy` may run concurrently from several
 * threads (an application may load pipelines in parallel; each pipeline's
 * `kernels:` entry gets its own instance), so they may only read
 * `plugin_state` or must lock it. One kernel instance is called by one
 * thread at a time (the thread that drives its backend). On `cpu`,
 * `execute` itself may use the worker threads of the context it is given.
 */
#ifndef TESSERA_KERNEL_H
#define TESSERA_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/compute.h"
#include "tessera/host.h"
#include "tessera/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessera_kernel tessera_kernel; /* opaque, plugin-owned */

typedef struct tessera_kernel_op {
  size_t struct_size;
  int32_t op;    /* tessera_op */
  int32_t dtype; /* dtype of the first source (the weights) */
} tessera_kernel_op;

typedef struct tessera_execution_context {
  size_t struct_size;
  const tessera_compute_interface* compute; /* the backend's own table */
  tessera_backend* backend;
  void* native; /* = compute->native_context(backend) */
} tessera_execution_context;

typedef struct tessera_kernel_interface {
  size_t struct_size;
  const char* backend;                   /* compute plugin name, e.g. "cpu" */
  uint64_t op_count;
  const tessera_kernel_op* const* ops;   /* op_count entries */

  /* `config` is the kernel's entry under `kernels:` in the pipeline, valid
   * only during the call. Thread-safe (see the top of this file). */
  tessera_status (*create)(void* plugin_state, const tessera_config* config,
                           tessera_kernel** out, tessera_error* err);
  void (*destroy)(tessera_kernel* kernel);
  /* Runs one node whose (op, src[0] dtype) is among `ops`. */
  tessera_status (*execute)(tessera_kernel* kernel, const tessera_node* node,
                            const tessera_execution_context* context,
                            tessera_error* err);
} tessera_kernel_interface;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_KERNEL_H */
