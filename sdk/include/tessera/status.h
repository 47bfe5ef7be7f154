/*
 * tessera/status.h - status codes and error messages across the ABI.
 *
 * Every fallible entry point returns a tessera_status and takes a
 * `tessera_error* err` as its last argument. The caller owns the error
 * struct (usually on its stack); the callee fills it on failure. `err` may be
 * NULL when the caller does not want the message. Nothing is allocated, so
 * errors never need freeing and are safe to use from any thread.
 */
#ifndef TESSERA_STATUS_H
#define TESSERA_STATUS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tessera_status {
  TESSERA_OK = 0,
  TESSERA_ERR_INVALID_ARGUMENT = 1, /* caller passed a bad value */
  TESSERA_ERR_OUT_OF_MEMORY = 2,    /* host or device allocation failed */
  TESSERA_ERR_IO = 3,               /* file could not be opened or read */
  TESSERA_ERR_FORMAT = 4,           /* file content is malformed or hostile */
  TESSERA_ERR_UNSUPPORTED = 5,      /* valid request this plugin cannot do */
  TESSERA_ERR_NOT_FOUND = 6,        /* key, tensor or device does not exist */
  TESSERA_ERR_OUT_OF_RANGE = 7,     /* index or value outside allowed range */
  TESSERA_ERR_ABI_MISMATCH = 8,     /* incompatible ABI versions */
  TESSERA_ERR_DEVICE = 9,           /* device/driver reported a failure */
  TESSERA_ERR_INTERNAL = 10         /* bug: an invariant did not hold */
} tessera_status;

enum { TESSERA_ERROR_MESSAGE_CAPACITY = 1024 };

typedef struct tessera_error {
  size_t struct_size;   /* sizeof(tessera_error), set by the caller */
  tessera_status code;  /* same as the returned status */
  /* NUL-terminated, human-readable: name the file, field and expected value
   * where they apply. Truncated to fit. */
  char message[TESSERA_ERROR_MESSAGE_CAPACITY];
} tessera_error;

/* Readable name of a status code ("invalid argument", ...). Never NULL. */
static inline const char* tessera_status_name(tessera_status status) {
  switch (status) {
    case TESSERA_OK: return "ok";
    case TESSERA_ERR_INVALID_ARGUMENT: return "invalid argument";
    case TESSERA_ERR_OUT_OF_MEMORY: return "out of memory";
    case TESSERA_ERR_IO: return "i/o error";
    case TESSERA_ERR_FORMAT: return "malformed input";
    case TESSERA_ERR_UNSUPPORTED: return "unsupported";
    case TESSERA_ERR_NOT_FOUND: return "not found";
    case TESSERA_ERR_OUT_OF_RANGE: return "out of range";
    case TESSERA_ERR_ABI_MISMATCH: return "ABI mismatch";
    case TESSERA_ERR_DEVICE: return "device error";
    case TESSERA_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

/* Prepares a caller-owned error struct. */
static inline void tessera_error_init(tessera_error* err) {
  if (err == NULL) return;
  err->struct_size = sizeof(tessera_error);
  err->code = TESSERA_OK;
  err->message[0] = '\0';
}

/* Fills `err` (if not NULL) and returns `code`, so a callee can write
 * `return tessera_error_set(err, TESSERA_ERR_FORMAT, "...", ...);` */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static inline tessera_status tessera_error_set(tessera_error* err,
                                               tessera_status code,
                                               const char* format, ...) {
  if (err != NULL) {
    va_list args;
    err->code = code;
    va_start(args, format);
    vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
  }
  return code;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_STATUS_H */
