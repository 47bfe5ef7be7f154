/* Compiled with -std=c99 -Wpedantic -Werror: the SDK headers are plain C99.
 * The functions below are called from test_headers.cpp, so the inline
 * helpers are exercised from C, not only compiled. */
#include "tessera/tessera.h"

const char* c99_status_name(int code) { return tessera_status_name((tessera_status)code); }

int c99_error_roundtrip(char* out, size_t out_size) {
  tessera_error err;
  size_t i;
  tessera_error_init(&err);
  if (tessera_error_set(&err, TESSERA_ERR_FORMAT, "field %s expected %d", "general.alignment", 32) !=
      TESSERA_ERR_FORMAT)
    return -1;
  for (i = 0; i + 1 < out_size && err.message[i] != '\0'; ++i) out[i] = err.message[i];
  out[i] = '\0';
  return (int)err.code;
}

unsigned c99_block_bytes(int dtype) { return tessera_dtype_info(dtype).block_bytes; }

size_t c99_descriptor_min_size(void) { return TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE; }
size_t c99_descriptor_size(void) { return sizeof(tessera_plugin_descriptor); }
