// What the executor hands each kernel: plain argument structs (device
// pointers, sizes, byte strides) and one launch function per kernel file.
// Everything here was validated on the host (ops.cpp); the kernels trust it.
// Each launch function enqueues on `stream` and returns the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tessera/quant/half.hpp"  // TESSERA_HD

namespace tessera::cuda {

// Per-node values that change from one decode step to the next. They live in
// device memory (written before each graph launch) so a captured CUDA graph
// stays valid: kernels read them instead of taking them as launch arguments.
struct NodeDyn {
  uint64_t dst_offset = 0;  // COPY: byte offset of dst in its buffer (the KV slot)
  int32_t first = 0;        // ATTENTION: cache position of the first query
  int32_t valid = 0;        // ATTENTION: number of valid cache positions
};

// Rows of a tensor (dims 1..3 flattened, dim 1 fastest) and their byte strides.
struct Rows {
  int64_t ne1 = 1, ne2 = 1;
  uint64_t nb1 = 0, nb2 = 0, nb3 = 0;
  TESSERA_HD uint64_t offset(int64_t r) const {
    const int64_t i1 = r % ne1, i2 = (r / ne1) % ne2, i3 = r / (ne1 * ne2);
    return static_cast<uint64_t>(i1) * nb1 + static_cast<uint64_t>(i2) * nb2 + static_cast<uint64_t>(i3) * nb3;
  }
};

struct GetRowsArgs {
  int32_t dtype = 0;                    // table dtype
  const uint8_t* table = nullptr;
  uint64_t table_row_bytes = 0;         // nb[1] of the table
  int64_t n_table_rows = 0;
  int64_t k = 0;                        // values per row
  const uint8_t* ids = nullptr;         // I32, shape ids_ne[0..2]
  int64_t ids_ne0 = 1, ids_ne1 = 1;
  uint64_t ids_nb0 = 4, ids_nb1 = 0, ids_nb2 = 0;
  int64_t n_ids = 0;
  uint8_t* dst = nullptr;               // F32 rows
  Rows dst_rows;
  int32_t* error_word = nullptr;        // set to (bad id index + 1) on an out-of-range id
};

struct RmsNormArgs {
  const uint8_t* x = nullptr;
  Rows x_rows;
  uint8_t* dst = nullptr;
  Rows dst_rows;
  int64_t k = 0, n_rows = 0;
  float eps = 0;
};

// MUL / ADD: dst = a (op) b, b repeated over a (each b size divides a's).
struct BinaryArgs {
  const uint8_t* a = nullptr;
  Rows a_rows;
  const uint8_t* b = nullptr;
  int64_t b_ne[4] = {1, 1, 1, 1};
  uint64_t b_nb[4] = {4, 0, 0, 0};
  uint8_t* dst = nullptr;
  Rows dst_rows;
  int64_t k = 0, n_rows = 0;
};

// SILU / SWIGLU / SCALE: row-wise element-wise on F32.
struct UnaryArgs {
  const uint8_t* x = nullptr;
  Rows x_rows;
  const uint8_t* y = nullptr;  // SWIGLU's second operand
  Rows y_rows;
  uint8_t* dst = nullptr;
  Rows dst_rows;
  int64_t k = 0, n_rows = 0;
  float scale = 1;
};

struct RopeArgs {
  const uint8_t* x = nullptr;
  Rows x_rows;
  uint8_t* dst = nullptr;
  Rows dst_rows;
  const int32_t* positions = nullptr;  // contiguous
  bool per_row = false;                // one position per row, else per token (row / ne1)
  int64_t head_dim = 0, n_rows = 0;
  int32_t n_rot = 0;
  float freq_base = 10000, freq_scale = 1;
};

struct SoftmaxArgs {
  const uint8_t* x = nullptr;
  Rows x_rows;
  uint8_t* dst = nullptr;
  Rows dst_rows;
  const uint8_t* mask = nullptr;  // optional F32
  int64_t mask_ne[4] = {1, 1, 1, 1};
  uint64_t mask_nb[4] = {4, 0, 0, 0};
  int64_t k = 0, n_rows = 0;
  float scale = 1;
};

// COPY with conversion; elements matched in logical order (like a reshape).
struct CopyArgs {
  int32_t src_dtype = 0, dst_dtype = 0;  // src F32/F16; dst F32/F16/Q8_0
  const uint8_t* src = nullptr;
  int64_t src_ne[4] = {1, 1, 1, 1};
  uint64_t src_nb[4] = {0, 0, 0, 0};
  uint8_t* dst_buffer = nullptr;         // dst = dst_buffer + dyn->dst_offset
  const NodeDyn* dyn = nullptr;
  int64_t dst_ne[4] = {1, 1, 1, 1};
  uint64_t dst_nb[4] = {0, 0, 0, 0};
  int64_t n = 0;                         // elements
};

// ATTENTION (types.h): Q [D, H, T] F32, K/V caches [D, Hkv, C], dst [D, H, T].
struct AttentionArgs {
  int32_t kv_dtype = 0;  // F32, F16 or Q8_0
  const uint8_t* q = nullptr;
  uint64_t q_nb1 = 0, q_nb2 = 0;
  const uint8_t* k = nullptr;
  uint64_t k_nb1 = 0, k_nb2 = 0;
  const uint8_t* v = nullptr;
  uint64_t v_nb1 = 0, v_nb2 = 0;
  uint8_t* dst = nullptr;
  uint64_t dst_nb1 = 0, dst_nb2 = 0;
  int64_t head_dim = 0, n_head = 0, n_kv_head = 0, n_tokens = 0, n_ctx = 0;
  float scale = 1;
  const NodeDyn* dyn = nullptr;  // first / valid
  float* partials = nullptr;     // decode: attention_decode_partials_bytes() of scratch
};

constexpr int64_t kMaxHeadDim = 256;  // per-lane accumulators in the attention kernels

cudaError_t launch_get_rows(const GetRowsArgs& a, cudaStream_t stream);
cudaError_t launch_rms_norm(const RmsNormArgs& a, cudaStream_t stream);
cudaError_t launch_mul(const BinaryArgs& a, cudaStream_t stream);
cudaError_t launch_add(const BinaryArgs& a, cudaStream_t stream);
cudaError_t launch_silu(const UnaryArgs& a, cudaStream_t stream);
cudaError_t launch_swiglu(const UnaryArgs& a, cudaStream_t stream);
cudaError_t launch_scale(const UnaryArgs& a, cudaStream_t stream);
cudaError_t launch_rope(const RopeArgs& a, cudaStream_t stream);
cudaError_t launch_softmax(const SoftmaxArgs& a, cudaStream_t stream);
cudaError_t launch_copy(const CopyArgs& a, cudaStream_t stream);

// Decode: the context split into fixed chunks (one block each, the count
// from the cache length so it is the same every step), then a reduction.
uint64_t attention_decode_partials_bytes(const AttentionArgs& a);
cudaError_t launch_attention_decode(const AttentionArgs& a, cudaStream_t stream);
// Prefill: FlashAttention-style tiles of queries x cached keys.
cudaError_t launch_attention_prefill(const AttentionArgs& a, cudaStream_t stream);

}  // namespace tessera::cuda
