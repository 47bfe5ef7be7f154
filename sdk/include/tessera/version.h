/*
 * tessera/version.h - ABI version of the tessera plugin interface.
 *
 * Versioning rules (read these before changing any header in sdk/include):
 *
 *  - The ABI has a MAJOR and a MINOR number. A plugin records the numbers it
 *    was compiled against in its descriptor (tessera_plugin_descriptor).
 *  - The host loads a plugin only when the MAJOR numbers are equal. Any other
 *    major is refused with a message naming both versions.
 *  - Within one major, any minor loads in either direction:
 *      * A MINOR bump may only append fields at the END of a struct, append
 *        functions at the END of a function table, or add enum values. It
 *        never removes, reorders or retypes anything.
 *      * Every struct that crosses the boundary starts with `size_t
 *        struct_size`, set by whoever fills the struct to sizeof() of the
 *        struct as *it* was compiled. A reader uses TESSERA_HAS_FIELD() to
 *        check that a field lies within struct_size before touching any field
 *        added after x.0; fields outside it take their documented default.
 *      * Anything else (removing or changing a field, changing a function
 *        signature or a semantic) is a MAJOR bump.
 *  - Arrays of structs are passed as arrays of pointers, so each element
 *    carries its own struct_size and no stride is ever assumed.
 *  - Exempt: three fixed-layout value types have no struct_size and never
 *    change within a major version (a new field means a new type, or a field
 *    appended to the sized struct that carries them):
 *      * tessera_token_candidate (sampler.h): {id, logit, p}, passed as one
 *        contiguous array of vocabulary size in tessera_candidates.data so
 *        samplers can sort and truncate it in place every token, as
 *        llama.cpp's llama_token_data does; a size word would make each
 *        12-byte element 24 bytes, a pointer array cost an indirection.
 *        The array's own struct, tessera_candidates, is sized.
 *      * tessera_string_view (types.h): {data, size}, a pointer and a
 *        length, complete by definition; embedded in tessera_value and
 *        filled as format.h's metadata_at `key`.
 *      * tessera_gptq_header (gptq.h): not a call argument but the first
 *        128 bytes of a GPTQ tensor's data; it is versioned by its own
 *        `magic` and `version` fields and keeps `reserved` words for growth.
 *    (tessera_dtype_traits is returned by value from an inline helper
 *    compiled into the caller, so it never crosses the boundary at all.)
 *
 * History:
 *   1.0  first stable ABI: plugin descriptor, host API, format, compute,
 *        sampler and kernel tables.
 *   1.1  tessera_plugin_descriptor gains `author` and `license` (optional;
 *        NULL or absent means "not stated").
 *   1.2  tessera_compute_interface gains `buffer_wrap_host` (optional):
 *        host memory, such as a mapped model file, used in place as a
 *        read-only buffer.
 */
#ifndef TESSERA_VERSION_H
#define TESSERA_VERSION_H

#define TESSERA_ABI_VERSION_MAJOR 1
#define TESSERA_ABI_VERSION_MINOR 2

/* Version of the tessera project itself (not the ABI). */
#define TESSERA_VERSION_STRING "0.1.0"

#include <stddef.h>

/* True when `ptr` (a pointer to a struct of type `type` whose first member is
 * struct_size) is large enough to contain `field`. */
#define TESSERA_HAS_FIELD(ptr, type, field)                                    \
  ((ptr) != NULL &&                                                            \
   (ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* Size of `type` up to and including `field`: the smallest struct_size a
 * writer compiled against the version that introduced `field` can have. */
#define TESSERA_SIZE_THROUGH(type, field)                                      \
  (offsetof(type, field) + sizeof(((type*)0)->field))

#endif /* TESSERA_VERSION_H */
