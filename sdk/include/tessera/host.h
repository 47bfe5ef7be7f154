/*
 * tessera/host.h - services the host (libtessera) hands to every plugin:
 * logging into the host's spdlog logger and read access to the plugin's
 * node of the pipeline YAML.
 *
 * The host API table is owned by the host and stays valid from the plugin's
 * `initialize` call until after its `shutdown` returns. All of its functions
 * are thread-safe: logging goes to a thread-safe spdlog logger, and the
 * config_* functions only read a tree the host does not change while a
 * plugin holds a node of it.
 */
#ifndef TESSERA_HOST_H
#define TESSERA_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/status.h"
#include "tessera/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tessera_log_level {
  TESSERA_LOG_TRACE = 0,
  TESSERA_LOG_DEBUG = 1,
  TESSERA_LOG_INFO = 2,
  TESSERA_LOG_WARN = 3,
  TESSERA_LOG_ERROR = 4
} tessera_log_level;

/* A node of the pipeline YAML (a map, a list or a scalar). Owned by the host;
 * valid only during the call it was passed to. Copy what you need to keep. */
typedef struct tessera_config tessera_config;

typedef enum tessera_config_kind {
  TESSERA_CONFIG_MISSING = 0, /* node is NULL or absent */
  TESSERA_CONFIG_NULL = 1,
  TESSERA_CONFIG_SCALAR = 2,
  TESSERA_CONFIG_LIST = 3,
  TESSERA_CONFIG_MAP = 4
} tessera_config_kind;

typedef struct tessera_host_api {
  size_t struct_size;
  uint16_t abi_major; /* the host's ABI version */
  uint16_t abi_minor;

  /* Log `message` (NUL-terminated, UTF-8) through the host's logger, tagged
   * with `plugin_name`. Messages below the host's --log-level are dropped;
   * `log_enabled` lets a plugin skip formatting them. */
  void (*log)(tessera_log_level level, const char* plugin_name,
              const char* message);
  int (*log_enabled)(tessera_log_level level);

  /* --- configuration (the plugin's YAML node) --- */
  tessera_config_kind (*config_kind)(const tessera_config* node);
  /* Child of a map by key; NULL when `node` is not a map or lacks the key. */
  const tessera_config* (*config_get)(const tessera_config* node,
                                      const char* key);
  /* Number of elements of a list or entries of a map; 0 for anything else. */
  size_t (*config_size)(const tessera_config* node);
  /* Element `index` of a list; NULL when out of range or not a list. */
  const tessera_config* (*config_at)(const tessera_config* node, size_t index);
  /* Key of map entry `index` (NUL-terminated, valid like the node). */
  const char* (*config_key_at)(const tessera_config* node, size_t index);
  /* Scalar conversions. Fail with TESSERA_ERR_INVALID_ARGUMENT and a message
   * giving the YAML file, line, column and the expected type. */
  tessera_status (*config_as_int)(const tessera_config* node, int64_t* out,
                                  tessera_error* err);
  tessera_status (*config_as_double)(const tessera_config* node, double* out,
                                     tessera_error* err);
  tessera_status (*config_as_bool)(const tessera_config* node, int* out,
                                   tessera_error* err);
  /* `*out` is NUL-terminated and valid like the node. */
  tessera_status (*config_as_string)(const tessera_config* node,
                                     const char** out, tessera_error* err);
  /* "FILE:LINE:COLUMN" of the node, for a plugin's own messages. Never
   * NULL: for a NULL node it is the static text "<no location>". The string
   * is owned by the host and valid like the node (only during the call the
   * node was passed to): copy it to keep it. */
  const char* (*config_location)(const tessera_config* node);
} tessera_host_api;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_HOST_H */
