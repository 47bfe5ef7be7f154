/*
 * tessera/plugin.h - the plugin descriptor and the one exported symbol.
 *
 * A plugin is a shared library exporting exactly one C function:
 *
 *     TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor*
 *     tessera_plugin_init(void);
 *
 * It must have no side effects and be cheap: the host calls it to list
 * plugins (`tessera plugins`) without using them. The returned descriptor is
 * static data owned by the plugin and valid until the library is unloaded.
 * Real set-up happens in `initialize`, which the host calls once before the
 * first use, and undoes with `shutdown` before unloading.
 *
 * The host refuses a descriptor whose abi_major differs from its own, whose
 * struct_size is smaller than TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE, whose name
 * is empty or already taken, or whose kinds lack their interface table.
 *
 * Thread safety: tessera_plugin_init may be called from any thread, more than
 * once. initialize/shutdown are called once each, from one thread.
 */
#ifndef TESSERA_PLUGIN_H
#define TESSERA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/compute.h"
#include "tessera/format.h"
#include "tessera/host.h"
#include "tessera/kernel.h"
#include "tessera/sampler.h"
#include "tessera/status.h"
#include "tessera/types.h"
#include "tessera/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TESSERA_PLUGIN_ENTRY_SYMBOL "tessera_plugin_init"

#if defined(_WIN32)
#define TESSERA_PLUGIN_EXPORT __declspec(dllexport)
#else
#define TESSERA_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Kinds a plugin provides (bit mask: one library may provide several). */
enum {
  TESSERA_KIND_FORMAT = 1u << 0,
  TESSERA_KIND_COMPUTE = 1u << 1,
  TESSERA_KIND_SAMPLER = 1u << 2,
  TESSERA_KIND_KERNEL = 1u << 3
};

/* Parameter a plugin accepts in its YAML node. The host validates types and
 * ranges before the plugin sees the node, and `tessera plugins` lists them. */
typedef enum tessera_param_type {
  TESSERA_PARAM_INT = 0,
  TESSERA_PARAM_FLOAT = 1,
  TESSERA_PARAM_BOOL = 2,
  TESSERA_PARAM_STRING = 3,
  TESSERA_PARAM_STRING_LIST = 4,
  TESSERA_PARAM_INT_MAP = 5 /* map of integer keys to numbers (logit bias) */
} tessera_param_type;

enum {
  TESSERA_PARAM_REQUIRED = 1u << 0,
  TESSERA_PARAM_MIN_EXCLUSIVE = 1u << 1, /* value > min instead of >= */
  TESSERA_PARAM_MAX_EXCLUSIVE = 1u << 2  /* value < max instead of <= */
};

typedef struct tessera_param_spec {
  size_t struct_size;
  const char* name;
  tessera_param_type type;
  uint32_t flags;            /* TESSERA_PARAM_* */
  double min_value;          /* numeric range, inclusive unless flagged; */
  double max_value;          /* ignored for non-numeric types */
  const char* default_value; /* as written in YAML, NULL if none */
  const char* description;   /* one line */
} tessera_param_spec;

typedef struct tessera_plugin_descriptor {
  size_t struct_size;
  uint16_t abi_major; /* = TESSERA_ABI_VERSION_MAJOR when compiled */
  uint16_t abi_minor; /* = TESSERA_ABI_VERSION_MINOR when compiled */
  uint32_t kinds;     /* TESSERA_KIND_* bits */
  const char* name;   /* unique among loaded plugins, [a-z0-9_]+ */
  const char* version;     /* the plugin's own version, e.g. "1.2.0" */
  const char* description; /* one line */

  /* Parameters of the plugin's YAML node (sampler params, compute options). */
  uint64_t param_count;
  const tessera_param_spec* const* params;

  /* Optional (may be NULL). `host` stays valid until shutdown returns;
   * `*plugin_state` is passed back to every interface function. */
  tessera_status (*initialize)(const tessera_host_api* host,
                               void** plugin_state, tessera_error* err);
  void (*shutdown)(void* plugin_state);

  /* One table per kind in `kinds`; NULL for the others. */
  const tessera_format_interface* format;
  const tessera_compute_interface* compute;
  const tessera_sampler_interface* sampler;
  const tessera_kernel_interface* kernel;

  /* ---- ABI 1.1 ---- */
  const char* author;  /* may be NULL */
  const char* license; /* SPDX id, may be NULL */
} tessera_plugin_descriptor;

/* The smallest descriptor the host accepts: the ABI 1.0 layout. */
#define TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE                                     \
  TESSERA_SIZE_THROUGH(tessera_plugin_descriptor, kernel)

typedef const tessera_plugin_descriptor* (*tessera_plugin_init_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_PLUGIN_H */
