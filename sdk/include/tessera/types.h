/*
 * tessera/types.h - plain data types shared by every plugin kind:
 * tensor element types, metadata value types, graph ops.
 */
#ifndef TESSERA_TYPES_H
#define TESSERA_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element type of a tensor. The values 0..39 are the GGML type ids used in
 * GGUF tensor infos, so a GGUF reader passes them through unchanged; ids a
 * reader does not know must be reported by number, never guessed.
 * Values >= 1000 are tessera's own (e.g. GPTQ packed layouts). */
typedef enum tessera_dtype {
  TESSERA_DTYPE_F32 = 0,
  TESSERA_DTYPE_F16 = 1,
  TESSERA_DTYPE_Q4_0 = 2,
  TESSERA_DTYPE_Q4_1 = 3,
  TESSERA_DTYPE_Q5_0 = 6,
  TESSERA_DTYPE_Q5_1 = 7,
  TESSERA_DTYPE_Q8_0 = 8,
  TESSERA_DTYPE_Q8_1 = 9,
  TESSERA_DTYPE_Q2_K = 10,
  TESSERA_DTYPE_Q3_K = 11,
  TESSERA_DTYPE_Q4_K = 12,
  TESSERA_DTYPE_Q5_K = 13,
  TESSERA_DTYPE_Q6_K = 14,
  TESSERA_DTYPE_Q8_K = 15,
  TESSERA_DTYPE_IQ2_XXS = 16,
  TESSERA_DTYPE_IQ2_XS = 17,
  TESSERA_DTYPE_IQ3_XXS = 18,
  TESSERA_DTYPE_IQ1_S = 19,
  TESSERA_DTYPE_IQ4_NL = 20,
  TESSERA_DTYPE_IQ3_S = 21,
  TESSERA_DTYPE_IQ2_S = 22,
  TESSERA_DTYPE_IQ4_XS = 23,
  TESSERA_DTYPE_I8 = 24,
  TESSERA_DTYPE_I16 = 25,
  TESSERA_DTYPE_I32 = 26,
  TESSERA_DTYPE_I64 = 27,
  TESSERA_DTYPE_F64 = 28,
  TESSERA_DTYPE_IQ1_M = 29,
  TESSERA_DTYPE_BF16 = 30,
  /* tessera-specific layouts */
  TESSERA_DTYPE_GPTQ_4BIT = 1000, /* layout: tessera/gptq.h (codes packed along the input dim) */
  TESSERA_DTYPE_GPTQ_8BIT = 1001,
  TESSERA_DTYPE_GPTQ_3BIT = 1002,
  TESSERA_DTYPE_INVALID = -1
} tessera_dtype;

/* Block geometry of a dtype: `block_elements` values are stored in
 * `block_bytes` bytes. Both are 0 for ids this header does not describe
 * (including the IQ1/IQ2/IQ3 grids, which tessera does not implement) and
 * for the GPTQ layouts, which have no per-row geometry: a GPTQ tensor is one
 * tessera_gptq_header-described blob (tessera/gptq.h) whose size is the
 * header's total_bytes. Callers must not derive a size from ne for them.
 * A plain value type compiled into the caller (never exchanged with a plugin
 * by pointer), so it has no struct_size. */
typedef struct tessera_dtype_traits {
  const char* name;
  uint32_t block_elements;
  uint32_t block_bytes;
} tessera_dtype_traits;

/* Pure and thread-safe: no state, no allocation. `name` is a string literal
 * of the binary that calls this (valid while it stays loaded, never freed),
 * NULL for an unknown id. */
static inline tessera_dtype_traits tessera_dtype_info(int32_t dtype) {
  tessera_dtype_traits t = {NULL, 0, 0};
  switch (dtype) {
    case TESSERA_DTYPE_F32: t.name = "F32"; t.block_elements = 1; t.block_bytes = 4; break;
    case TESSERA_DTYPE_F16: t.name = "F16"; t.block_elements = 1; t.block_bytes = 2; break;
    case TESSERA_DTYPE_BF16: t.name = "BF16"; t.block_elements = 1; t.block_bytes = 2; break;
    case TESSERA_DTYPE_F64: t.name = "F64"; t.block_elements = 1; t.block_bytes = 8; break;
    case TESSERA_DTYPE_I8: t.name = "I8"; t.block_elements = 1; t.block_bytes = 1; break;
    case TESSERA_DTYPE_I16: t.name = "I16"; t.block_elements = 1; t.block_bytes = 2; break;
    case TESSERA_DTYPE_I32: t.name = "I32"; t.block_elements = 1; t.block_bytes = 4; break;
    case TESSERA_DTYPE_I64: t.name = "I64"; t.block_elements = 1; t.block_bytes = 8; break;
    case TESSERA_DTYPE_Q4_0: t.name = "Q4_0"; t.block_elements = 32; t.block_bytes = 18; break;
    case TESSERA_DTYPE_Q4_1: t.name = "Q4_1"; t.block_elements = 32; t.block_bytes = 20; break;
    case TESSERA_DTYPE_Q5_0: t.name = "Q5_0"; t.block_elements = 32; t.block_bytes = 22; break;
    case TESSERA_DTYPE_Q5_1: t.name = "Q5_1"; t.block_elements = 32; t.block_bytes = 24; break;
    case TESSERA_DTYPE_Q8_0: t.name = "Q8_0"; t.block_elements = 32; t.block_bytes = 34; break;
    case TESSERA_DTYPE_Q8_1: t.name = "Q8_1"; t.block_elements = 32; t.block_bytes = 36; break;
    case TESSERA_DTYPE_Q2_K: t.name = "Q2_K"; t.block_elements = 256; t.block_bytes = 84; break;
    case TESSERA_DTYPE_Q3_K: t.name = "Q3_K"; t.block_elements = 256; t.block_bytes = 110; break;
    case TESSERA_DTYPE_Q4_K: t.name = "Q4_K"; t.block_elements = 256; t.block_bytes = 144; break;
    case TESSERA_DTYPE_Q5_K: t.name = "Q5_K"; t.block_elements = 256; t.block_bytes = 176; break;
    case TESSERA_DTYPE_Q6_K: t.name = "Q6_K"; t.block_elements = 256; t.block_bytes = 210; break;
    case TESSERA_DTYPE_Q8_K: t.name = "Q8_K"; t.block_elements = 256; t.block_bytes = 292; break;
    case TESSERA_DTYPE_IQ4_NL: t.name = "IQ4_NL"; t.block_elements = 32; t.block_bytes = 18; break;
    case TESSERA_DTYPE_IQ4_XS: t.name = "IQ4_XS"; t.block_elements = 256; t.block_bytes = 136; break;
    case TESSERA_DTYPE_IQ2_XXS: t.name = "IQ2_XXS"; break;
    case TESSERA_DTYPE_IQ2_XS: t.name = "IQ2_XS"; break;
    case TESSERA_DTYPE_IQ3_XXS: t.name = "IQ3_XXS"; break;
    case TESSERA_DTYPE_IQ1_S: t.name = "IQ1_S"; break;
    case TESSERA_DTYPE_IQ3_S: t.name = "IQ3_S"; break;
    case TESSERA_DTYPE_IQ2_S: t.name = "IQ2_S"; break;
    case TESSERA_DTYPE_IQ1_M: t.name = "IQ1_M"; break;
    case TESSERA_DTYPE_GPTQ_4BIT: t.name = "GPTQ_4BIT"; break; /* size: the header's total_bytes */
    case TESSERA_DTYPE_GPTQ_8BIT: t.name = "GPTQ_8BIT"; break;
    case TESSERA_DTYPE_GPTQ_3BIT: t.name = "GPTQ_3BIT"; break;
    default: break;
  }
  return t;
}

/* A byte string that is not NUL-terminated (GGUF strings are not). A
 * fixed-layout value type without struct_size: see version.h. */
typedef struct tessera_string_view {
  const char* data;
  uint64_t size;
} tessera_string_view;

/* Metadata value types. The numbering equals GGUF's gguf_metadata_value_type
 * so a GGUF reader passes it through unchanged. */
typedef enum tessera_value_type {
  TESSERA_VALUE_UINT8 = 0,
  TESSERA_VALUE_INT8 = 1,
  TESSERA_VALUE_UINT16 = 2,
  TESSERA_VALUE_INT16 = 3,
  TESSERA_VALUE_UINT32 = 4,
  TESSERA_VALUE_INT32 = 5,
  TESSERA_VALUE_FLOAT32 = 6,
  TESSERA_VALUE_BOOL = 7,
  TESSERA_VALUE_STRING = 8,
  TESSERA_VALUE_ARRAY = 9,
  TESSERA_VALUE_UINT64 = 10,
  TESSERA_VALUE_INT64 = 11,
  TESSERA_VALUE_FLOAT64 = 12
} tessera_value_type;

/* One metadata value. Scalars are widened into the union member named in the
 * comment; the original width is kept in `type`. Pointers inside a value are
 * owned by the model file that produced it and stay valid until it closes. */
typedef struct tessera_value {
  size_t struct_size;
  tessera_value_type type;
  union {
    uint64_t u; /* UINT8, UINT16, UINT32, UINT64 */
    int64_t i;  /* INT8, INT16, INT32, INT64 */
    double f;   /* FLOAT32, FLOAT64 */
    int b;      /* BOOL: 0 or 1 */
    tessera_string_view s; /* STRING */
    struct {
      tessera_value_type element_type;
      uint64_t count;
      /* For numeric and bool elements: the `count` elements packed
       * little-endian exactly as stored (element size from element_type);
       * NULL for STRING and ARRAY elements, read those one at a time with
       * the format's metadata_array_get. */
      const void* data;
      const void* handle; /* opaque, for metadata_array_get */
    } array;
  } as;
} tessera_value;

/* Operations of the model graph. A compute plugin states, per op and weight
 * dtype, what it can execute (tessera_compute_interface.supports_op). */
typedef enum tessera_op {
  TESSERA_OP_NONE = 0,
  TESSERA_OP_GET_ROWS = 1,   /* dst[i,:] = dequant(src0[src1[i],:]) (embeddings) */
  TESSERA_OP_RMS_NORM = 2,   /* dst = src0 / rms(src0); f_params[0] = epsilon */
  TESSERA_OP_MUL = 3,        /* dst = src0 * src1 (src1 broadcast over rows) */
  TESSERA_OP_ADD = 4,        /* dst = src0 + src1 */
  TESSERA_OP_MUL_MAT = 5,    /* dst[n,m] = sum_k src0[m,k] * src1[n,k]; src0 = weights */
  /* Rotary embedding, adjacent pairs (x[2i], x[2i+1]) of the first
   * i_params[0] values of each row rotated by pos * f_params[1] *
   * f_params[0]^(-2i / i_params[0]); src0 [head_dim, rows...], src1 I32
   * positions, one per row or one per token. */
  TESSERA_OP_ROPE = 6,
  TESSERA_OP_SOFTMAX = 7,    /* row-wise softmax, optional mask in src1 */
  /* Fused causal grouped-query attention over the KV cache. src0: Q F32
   * [head_dim, n_head, n_tokens]; src1 / src2: K / V cache [head_dim,
   * n_kv_head, n_ctx]; dst: F32 like src0. i_params[0] = cache position of
   * the first query, i_params[1] = number of valid cache positions;
   * f_params[0] = score scale. Query t sees positions 0 .. i_params[0] + t;
   * head h reads KV head h / (n_head / n_kv_head). For supports_op the
   * dtype is the cache's (src1's). */
  TESSERA_OP_ATTENTION = 8,
  TESSERA_OP_SILU = 9,
  TESSERA_OP_SWIGLU = 10,    /* dst = silu(src0) * src1 */
  TESSERA_OP_COPY = 11,      /* dst = convert(src0), e.g. into the KV cache */
  TESSERA_OP_SCALE = 12,     /* dst = src0 * f_params[0] */
  TESSERA_OP_COUNT_ = 13     /* number of ops in this minor version */
} tessera_op;

/* Lower-case op name ("mul_mat"), a string literal of the calling binary
 * like tessera_dtype_info's names; NULL for an unknown op. Pure and
 * thread-safe. */
static inline const char* tessera_op_name(int32_t op) {
  switch (op) {
    case TESSERA_OP_NONE: return "none";
    case TESSERA_OP_GET_ROWS: return "get_rows";
    case TESSERA_OP_RMS_NORM: return "rms_norm";
    case TESSERA_OP_MUL: return "mul";
    case TESSERA_OP_ADD: return "add";
    case TESSERA_OP_MUL_MAT: return "mul_mat";
    case TESSERA_OP_ROPE: return "rope";
    case TESSERA_OP_SOFTMAX: return "softmax";
    case TESSERA_OP_ATTENTION: return "attention";
    case TESSERA_OP_SILU: return "silu";
    case TESSERA_OP_SWIGLU: return "swiglu";
    case TESSERA_OP_COPY: return "copy";
    case TESSERA_OP_SCALE: return "scale";
    default: return NULL;
  }
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_TYPES_H */
