/*
 * tessera/format.h - format plugins: read model files (GGUF, GPTQ
 * safetensors, ...) and expose their metadata and tensors.
 *
 * Ownership: `open` creates a tessera_model_file that the caller frees with
 * `close` of the same plugin. Every pointer the file hands out (names,
 * strings, mapped tensor bytes, array handles) is owned by the file and stays
 * valid until `close`.
 *
 * Thread safety: `probe` and `open` may be called concurrently. After `open`
 * returns, all read-only functions on one file (metadata_*, tensor_*) may be
 * called concurrently from any thread; `close` must not race with any of
 * them.
 */
#ifndef TESSERA_FORMAT_H
#define TESSERA_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/host.h"
#include "tessera/status.h"
#include "tessera/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessera_model_file tessera_model_file; /* opaque, plugin-owned */

enum { TESSERA_MAX_DIMS = 8 };

typedef struct tessera_tensor_info {
  size_t struct_size;
  const char* name;      /* NUL-terminated, owned by the file */
  int32_t dtype;         /* a tessera_dtype value; unknown ids are refused at open */
  uint32_t n_dims;       /* 1..TESSERA_MAX_DIMS */
  uint64_t dims[TESSERA_MAX_DIMS]; /* dims[0] varies fastest (GGUF order) */
  uint64_t n_bytes;      /* size of the tensor's data */
  uint64_t file_offset;  /* absolute offset of the data in its file */
  uint32_t file_index;   /* which file of a split model holds the data */
} tessera_tensor_info;

typedef struct tessera_format_interface {
  size_t struct_size;

  /* Cheap check whether `path` is a file (or directory) this plugin reads;
   * `head` holds its first bytes (`head_size` may be less than 16, 0 for a
   * directory). Returns 0 (no) to 100 (certain). Thread-safe. */
  int (*probe)(void* plugin_state, const char* path, const uint8_t* head,
               size_t head_size);

  /* Opens a model. `options` is the pipeline's `model:` node (may be NULL).
   * On success `*out` is owned by the caller and freed with `close`. */
  tessera_status (*open)(void* plugin_state, const char* path,
                         const tessera_config* options,
                         tessera_model_file** out, tessera_error* err);
  void (*close)(tessera_model_file* file);

  /* --- metadata: key/value pairs, every GGUF value type --- */
  uint64_t (*metadata_count)(const tessera_model_file* file);
  /* Entry `index` in file order; `*key` is owned by the file. */
  tessera_status (*metadata_at)(const tessera_model_file* file, uint64_t index,
                                tessera_string_view* key, tessera_value* value,
                                tessera_error* err);
  /* Lookup by NUL-terminated key; TESSERA_ERR_NOT_FOUND when absent. */
  tessera_status (*metadata_find)(const tessera_model_file* file,
                                  const char* key, tessera_value* value,
                                  tessera_error* err);
  /* Element `index` of an ARRAY value (works for nested arrays and strings). */
  tessera_status (*metadata_array_get)(const tessera_model_file* file,
                                       const tessera_value* array,
                                       uint64_t index, tessera_value* element,
                                       tessera_error* err);

  /* --- tensors --- */
  uint64_t (*tensor_count)(const tessera_model_file* file);
  tessera_status (*tensor_info)(const tessera_model_file* file, uint64_t index,
                                tessera_tensor_info* info, tessera_error* err);
  tessera_status (*tensor_find)(const tessera_model_file* file,
                                const char* name, uint64_t* index,
                                tessera_error* err);
  /* Zero-copy view of a tensor's bytes (memory-mapped); valid until close.
   * TESSERA_ERR_UNSUPPORTED if the format cannot map (then use tensor_read). */
  tessera_status (*tensor_map)(const tessera_model_file* file, uint64_t index,
                               const void** data, uint64_t* size,
                               tessera_error* err);
  /* Copies bytes [offset, offset+size) of a tensor into caller memory. */
  tessera_status (*tensor_read)(const tessera_model_file* file, uint64_t index,
                                uint64_t offset, void* dst, uint64_t size,
                                tessera_error* err);
} tessera_format_interface;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_FORMAT_H */
