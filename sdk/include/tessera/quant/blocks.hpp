// tessera/quant/blocks.hpp - the block layouts of the GGUF tensor types,
// documented once, here. All multi-byte fields are little-endian; "f16" is an
// IEEE half stored as uint16_t. A row of N values is N / block_elements
// consecutive blocks. Layouts follow the GGUF specification / ggml.
#pragma once

#include <cstdint>

namespace tessera::quant {

constexpr int kBlock32 = 32;   // "legacy" quants
constexpr int kBlock256 = 256; // k-quants (QK_K) and IQ4_XS

// Q4_0: x = d * (q - 8), q in 0..15. qs[j] holds value j (low nibble) and
// value j + 16 (high nibble).
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};

// Q4_1: x = d * q + m, q in 0..15, nibbles as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// Q5_0: x = d * (q - 16), q in 0..31: low 4 bits as Q4_0, bit 4 of value j
// in bit j of qh (a little-endian uint32).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q5_1: x = d * q + m, q in 0..31, bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q8_0: x = d * q, q int8.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// Q2_K: 16 groups of 16. scales[g] = scale (low 4 bits) | min (high 4 bits);
// x = d * scale * q - dmin * min, q in 0..3. Within each half (128 values,
// 32 bytes of qs), bits 2s..2s+1 of qs[l] hold value 32 * s + l (l < 32).
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};

// Q3_K: 16 groups of 16; 6-bit signed scales (stored +32) packed in 12 bytes:
// low 4 bits of group g in scales[g % 8] (nibble g / 8), high 2 bits in
// scales[8 + g % 4] at bit 2 * (g / 4). x = d * (scale - 32) * (q - 4),
// q in 0..7: low 2 bits like Q2_K's qs, bit 2 in hmask[l] bit (value / 32).
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// Q4_K: 8 groups of 32; 6-bit scale and min per group packed in 12 bytes
// (groups 0-3: low 6 bits of scales[g] / scales[g + 4]; groups 4-7: low
// nibbles in scales[g + 4], high 2 bits in the top bits of scales[g - 4] /
// scales[g]). x = d * scale * q - dmin * min, q in 0..15; each 32 bytes of qs
// hold two groups (low nibbles, then high nibbles).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// Q5_K: as Q4_K plus a fifth bit: bit (2 * pair + half) of qh[l] for the
// value at position l of the group.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// Q6_K: 16 groups of 16 with int8 scales; x = d * scale * (q - 32),
// q in 0..63: low 4 bits in ql, high 2 bits in qh (see dequantize.hpp).
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// Q8_K: x = d * q with a float32 d; bsums[i] = sum of qs[16 i .. 16 i + 15]
// (used by dot products with k-quants).
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

// IQ4_NL: x = d * kIq4nlValues[q], nibbles as Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};

// IQ4_XS: 8 groups of 32 with 6-bit scales (stored +32): low 4 bits in
// scales_l (nibble g % 2 of byte g / 2), high 2 bits in scales_h at bit 2 g.
// x = d * (scale - 32) * kIq4nlValues[q]; nibbles per group as Q4_0.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

// The non-linear 4-bit code book of IQ4_NL / IQ4_XS.
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
                  sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34,
              "legacy block sizes");
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
                  sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292,
              "k-quant block sizes");
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136, "iq4 block sizes");

}  // namespace tessera::quant
