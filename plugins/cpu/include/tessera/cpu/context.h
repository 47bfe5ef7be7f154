/*
 * tessera/cpu/context.h - the native execution context of the `cpu` compute
 * plugin, as returned by its compute->native_context(backend) and handed to
 * kernel plugins in tessera_execution_context.native.
 *
 * It lets a kernel plugin run its work on the backend's own worker threads
 * (the pipeline's `threads` setting) instead of starting threads of its own.
 *
 * Plain C, ABI rules of tessera/version.h: new fields only at the end, check
 * struct_size (TESSERA_HAS_FIELD) before reading any field added after 1.0.
 *
 * Ownership: owned by the backend, valid until backend_free.
 *
 * Thread safety: parallel_for is called by the thread that drives the
 * backend (one at a time, like every backend call). A call made from inside
 * a task (nested) does not deadlock: it runs all its tasks inline on the
 * calling thread, passing that thread's own index.
 */
#ifndef TESSERA_CPU_CONTEXT_H
#define TESSERA_CPU_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs tasks [begin, end) on worker `thread` (0 <= thread < n_threads).
 * Must not throw or longjmp across the call. */
typedef void (*tessera_cpu_task_fn)(void* user, int64_t begin, int64_t end,
                                    int thread);

typedef struct tessera_cpu_context {
  size_t struct_size;
  int32_t n_threads; /* worker threads, the caller's thread included */
  /* Splits [0, n_tasks) into at most n_threads contiguous, non-empty ranges
   * and calls `fn` once per range, each on a different thread; returns when
   * all calls have returned. The split is a pure function of n_tasks and
   * n_threads, so per-task results are deterministic. n_tasks <= 0 does
   * nothing. */
  void (*parallel_for)(const struct tessera_cpu_context* ctx, int64_t n_tasks,
                       tessera_cpu_task_fn fn, void* user);
  void* pool; /* private to the plugin */
} tessera_cpu_context;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_CPU_CONTEXT_H */
