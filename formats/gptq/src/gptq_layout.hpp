// Builds the one-tensor GPTQ layout of tessera/gptq.h from the four tensors
// of an AutoGPTQ checkpoint (qweight, qzeros, scales, g_idx): zero points
// unpacked and corrected, act-order rows sorted by group, and an optional
// output-column permutation (q/k rotate-half -> adjacent pairs) applied to
// qweight, scales and zeros alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/gptq.h"

namespace tessera::gptq {

struct GptqSource {
  std::string name;       // layer name for error messages, e.g. model.layers.0.self_attn.q_proj
  std::string file;       // shard holding it, for error messages
  uint32_t bits = 4;      // 4, 8 or 3
  uint64_t in_features = 0;   // K
  uint64_t out_features = 0;  // N
  uint32_t group_size = 0;    // resolved: K for checkpoint group_size -1
  bool zeros_minus_one = true;  // AutoGPTQ v1
  bool sym = true;
  // Raw little-endian bytes, possibly unaligned, shapes already checked:
  const uint8_t* qweight = nullptr;  // int32 [K*bits/32][N]
  const uint8_t* qzeros = nullptr;   // int32 [n_groups][N*bits/32]
  const uint8_t* scales = nullptr;   // f16 [n_groups][N]
  const uint8_t* g_idx = nullptr;    // int32 [K], or nullptr: k / group_size
};

uint32_t group_count(uint64_t in_features, uint32_t group_size);

// Code of row `k` in column `n` of a column-bitstream packing (qweight):
// word (r, n) holds bits 32r .. 32r+31 of column n's stream.
uint32_t read_packed_code(const uint8_t* words, uint64_t columns, uint32_t bits, uint64_t k, uint64_t n);

// A layer checked at open and built only when read: the layout is as large
// as the weights, so the model keeps this plan (and the mapped source) and
// writes the bytes straight into the reader's memory.
struct GptqPlan {
  GptqSource src;
  std::vector<uint32_t> column_source;  // source column of output column n; empty: identity
  std::vector<int32_t> perm;            // input row order; empty: identity (no act-order)
  tessera_gptq_header header{};         // flags included
};

// Checks everything that can be wrong with the source: g_idx out of range or
// groups that are not `group_size` rows (TESSERA_ERR_FORMAT), a v1 8-bit zero
// that needs 256 (TESSERA_ERR_UNSUPPORTED). Throws sdk::Error.
GptqPlan plan_gptq_tensor(const GptqSource& src, std::vector<uint32_t> column_source);

// Writes the plan's header.total_bytes bytes (padding zeroed) at `dst`, which
// needs no alignment. Cannot fail once the plan exists.
void write_gptq_tensor(const GptqPlan& plan, uint8_t* dst);

// The section offsets and sizes for a layer of this shape (header filled
// except for flags).
tessera_gptq_header plan_gptq_header(uint32_t bits, uint64_t in_features, uint64_t out_features, uint32_t group_size);

}  // namespace tessera::gptq
