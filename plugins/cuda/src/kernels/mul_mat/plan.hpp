// Host-side decisions of the matrix-product kernels, kept free of CUDA so
// they are unit-tested without a GPU: which weight types have kernels, which
// path a call takes (mat-vec or dequantize + cuBLAS GEMM), and how much of
// the Workspace each path needs.
#pragma once

#include <cstdint>

#include "tessera/types.h"

namespace tessera::cuda::mm {

// Rows of x one mat-vec launch handles (per-thread accumulators); larger
// decode-sized batches are cut into launches of this many rows.
inline constexpr int64_t kMatVecMaxRows = 8;
// Up to this many rows of x the weight is streamed by mat-vec launches
// (ceil(rows / 8) passes over the weight). Beyond it the weight is
// dequantized once to a 16-bit scratch copy and multiplied by cuBLAS: for
// 4-bit weights that costs about as much traffic as 8 weight passes, and the
// GEMM's tensor cores win from there on.
inline constexpr int64_t kMatVecRowLimit = 16;
// The GEMM path dequantizes at most this many weight elements at a time
// (slabs of output rows): 64 MiB of f16, whatever the weight's size.
inline constexpr int64_t kSlabElements = int64_t{32} << 20;
// GPTQ mat-vec: input rows per K split (a multiple of the 32-row packing
// unit). Small enough that a 4096 x 4096 weight gives 512 blocks (about 4
// per H100 SM) to keep enough loads in flight.
inline constexpr int64_t kGptqSplitRows = 128;

enum class Path { mat_vec, mat_mat };

inline bool is_gptq(int32_t dtype) {
  return dtype == TESSERA_DTYPE_GPTQ_4BIT || dtype == TESSERA_DTYPE_GPTQ_8BIT || dtype == TESSERA_DTYPE_GPTQ_3BIT;
}

inline bool is_float(int32_t dtype) {
  return dtype == TESSERA_DTYPE_F32 || dtype == TESSERA_DTYPE_F16 || dtype == TESSERA_DTYPE_BF16;
}

// The GGUF block types with a decoder in decode.cuh.
inline bool is_block_quant(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_Q4_0: case TESSERA_DTYPE_Q4_1: case TESSERA_DTYPE_Q5_0: case TESSERA_DTYPE_Q5_1:
    case TESSERA_DTYPE_Q8_0: case TESSERA_DTYPE_Q2_K: case TESSERA_DTYPE_Q3_K: case TESSERA_DTYPE_Q4_K:
    case TESSERA_DTYPE_Q5_K: case TESSERA_DTYPE_Q6_K: case TESSERA_DTYPE_Q8_K: case TESSERA_DTYPE_IQ4_NL:
    case TESSERA_DTYPE_IQ4_XS:
      return true;
    default:
      return false;
  }
}

inline bool supported(int32_t dtype) { return is_float(dtype) || is_block_quant(dtype) || is_gptq(dtype); }

inline Path choose_path(int64_t n_rows) { return n_rows <= kMatVecRowLimit ? Path::mat_vec : Path::mat_mat; }

// Output rows per dequantized slab: all of them when the weight fits in
// kSlabElements, else a multiple of 64 (GEMM-friendly, keeps y's column
// offsets 256-byte aligned), at least 64.
inline int64_t slab_rows(int64_t k, int64_t n_out) {
  if (k <= 0 || n_out <= 0) return 0;
  if (k * n_out <= kSlabElements) return n_out;
  int64_t rows = kSlabElements / k / 64 * 64;
  if (rows < 64) rows = 64;
  return rows < n_out ? rows : n_out;
}

inline uint64_t round_up_256(uint64_t v) { return (v + 255) / 256 * 256; }

// Workspace layout of the GEMM path: the 16-bit copy of x (n_rows x k), then
// one slab of 16-bit weights (slab_rows x k). F32 weights need neither (the
// GEMM runs on them in f32), F16 / BF16 weights only the x copy.
struct MatMatPlan {
  int64_t slab_rows = 0;
  uint64_t x_offset = 0, x_bytes = 0;
  uint64_t weight_offset = 0, weight_bytes = 0;
  uint64_t total_bytes = 0;
};

inline MatMatPlan mat_mat_plan(int32_t dtype, int64_t k, int64_t n_out, int64_t n_rows) {
  MatMatPlan p;
  if (dtype == TESSERA_DTYPE_F32 || k <= 0 || n_out <= 0 || n_rows <= 0) return p;
  p.x_bytes = static_cast<uint64_t>(n_rows) * static_cast<uint64_t>(k) * 2;
  p.weight_offset = round_up_256(p.x_bytes);
  if (dtype != TESSERA_DTYPE_F16 && dtype != TESSERA_DTYPE_BF16) {
    p.slab_rows = slab_rows(k, n_out);
    p.weight_bytes = static_cast<uint64_t>(p.slab_rows) * static_cast<uint64_t>(k) * 2;
  }
  p.total_bytes = p.weight_offset + round_up_256(p.weight_bytes);
  return p;
}

// GPTQ mat-vec: K is split into kGptqSplitRows-row ranges, one partial sum
// each in the Workspace ([splits][rows][n_out] floats), then reduced in a
// fixed order (deterministic, no atomics).
inline int64_t gptq_splits(int64_t k) { return (k + kGptqSplitRows - 1) / kGptqSplitRows; }

inline uint64_t gptq_mat_vec_bytes(int64_t k, int64_t n_out, int64_t n_rows) {
  if (k <= 0 || n_out <= 0 || n_rows <= 0) return 0;
  return static_cast<uint64_t>(gptq_splits(k)) * static_cast<uint64_t>(n_rows) * static_cast<uint64_t>(n_out) * 4;
}

}  // namespace tessera::cuda::mm
