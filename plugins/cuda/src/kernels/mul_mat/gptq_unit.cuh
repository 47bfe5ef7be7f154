// GPTQ packing units: 32 consecutive (sorted) input rows of one column, held
// in `BITS` qweight words (kernels load them with one coalesced word load per
// row of words). A group is a whole number of units, so one scale and zero
// cover a unit. Host-callable so the bit math is unit-tested without a GPU
// against quant::gptq_code.
#pragma once

#include <cstdint>

#include "tessera/quant/half.hpp"  // TESSERA_HD

namespace tessera::cuda::mm {

inline constexpr int kGptqUnitRows = 32;

// Code j (0..31) of a unit whose words are w[0 .. BITS): the column's words
// form one little-endian bit stream, row j at bit j * BITS.
template <int BITS>
TESSERA_HD inline uint32_t gptq_unit_code(const uint32_t* w, int j) {
  const int bit = j * BITS, word = bit / 32, shift = bit % 32;
  uint32_t v = w[word] >> shift;
  if (shift + BITS > 32) v |= w[word + 1] << (32 - shift);
  return v & ((1u << BITS) - 1u);
}

// Index of word i (< BITS) of unit `unit` in column n of qweight [K * BITS / 32][n_cols].
template <int BITS>
TESSERA_HD inline uint64_t gptq_unit_word(int64_t unit, int i, uint64_t n_cols, uint64_t n) {
  return static_cast<uint64_t>(unit * BITS + i) * n_cols + n;
}

}  // namespace tessera::cuda::mm
