/*
 * tessera/gptq.h - the in-memory layout of a GPTQ-quantized weight.
 *
 * A GPTQ linear layer is four tensors in a Hugging Face checkpoint (qweight,
 * qzeros, scales, g_idx). tessera hands it to compute plugins as ONE tensor
 * of dtype TESSERA_DTYPE_GPTQ_{4,8,3}BIT so the graph's mul_mat node stays
 * "weight x activations". The format plugin (formats/gptq) builds this
 * layout once at load time:
 *
 *   - zero points are stored unpacked and already corrected (AutoGPTQ v1
 *     checkpoints store zero - 1; this layout stores the real zero);
 *   - act-order (desc_act) models have their input rows sorted by group, as
 *     ExLlama does, so every group is a contiguous run of `group_size` rows
 *     and kernels stream the packed words sequentially. `perm[k]` names the
 *     original input row now at position k: the kernel reads x[perm[k]];
 *   - q_proj / k_proj output rows are permuted from Hugging Face's
 *     rotate-half RoPE order into the adjacent-pair order the llama graph
 *     uses (the same permutation llama.cpp's converter applies).
 *
 * Tensor shape as seen by the graph: ne[0] = in_features (K),
 * ne[1] = out_features (N), like any other mul_mat weight. The tensor's byte
 * size is tessera_gptq_header.total_bytes, not derived from the dtype traits.
 *
 * Dequantized weight of output n, (reordered) input row k, g = k / group_size:
 *   W[n, perm[k]] = scale[g][n] * (q[k][n] - zero[g][n])
 * where q[k][n] is the `bits`-bit code of row k in column n of `qweight`.
 */
#ifndef TESSERA_GPTQ_H
#define TESSERA_GPTQ_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TESSERA_GPTQ_MAGIC 0x51545047u /* "GPTQ" little-endian */
#define TESSERA_GPTQ_LAYOUT_VERSION 1u

enum {
  /* Input rows were reordered by group; `perm` is meaningful. Without it
   * perm is still present and is the identity. */
  TESSERA_GPTQ_FLAG_ACT_ORDER = 1u << 0,
  /* Symmetric quantization in the source checkpoint (informational). */
  TESSERA_GPTQ_FLAG_SYMMETRIC = 1u << 1
};

/* 128 bytes, at the start of the tensor's data; all offsets are from the
 * start of this header and 64-byte aligned. Data, not a call argument: it
 * is versioned by `magic`/`version` instead of struct_size (version.h). */
typedef struct tessera_gptq_header {
  uint32_t magic;          /* TESSERA_GPTQ_MAGIC */
  uint32_t version;        /* TESSERA_GPTQ_LAYOUT_VERSION */
  uint32_t bits;           /* 4 or 8 (3 when the dtype is GPTQ_3BIT) */
  uint32_t group_size;     /* rows per group; in_features for group_size -1 */
  uint64_t in_features;    /* K, a multiple of 32 */
  uint64_t out_features;   /* N, a multiple of 8 */
  uint32_t n_groups;       /* ceil(K / group_size) */
  uint32_t flags;          /* TESSERA_GPTQ_FLAG_* */
  /* qweight: uint32 [K * bits / 32][N], AutoGPTQ packing: word (r, n) holds
   * the codes of rows r*32/bits .. (r+1)*32/bits - 1 of column n, lowest
   * bits first. For 3 bits, 32 rows span three words (AutoGPTQ's order). */
  uint64_t qweight_offset;
  uint64_t scales_offset;  /* uint16 IEEE half [n_groups][N] */
  uint64_t zeros_offset;   /* uint8 [n_groups][N], the true zero point */
  uint64_t perm_offset;    /* int32 [K] */
  uint64_t total_bytes;    /* header + every section, padding included */
  uint64_t reserved[6];    /* zero */
} tessera_gptq_header;

#ifdef __cplusplus
static_assert(sizeof(tessera_gptq_header) == 128, "gptq header is 128 bytes");
} /* extern "C" */
#endif

#endif /* TESSERA_GPTQ_H */
