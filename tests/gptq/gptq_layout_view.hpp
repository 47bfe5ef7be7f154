// Test-side reader of the tessera/gptq.h layout, written from the header's
// comments alone: it checks the header's invariants and decodes codes,
// zeros, scales and perm, independent of the plugin's builder.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "tessera/gptq.h"
#include "tessera/quant/half.hpp"

namespace tessera::test::gptq {

class LayoutView {
 public:
  LayoutView(const uint8_t* data, uint64_t size) : data_(data), size_(size) {
    std::memcpy(&h_, data, sizeof h_);
  }
  const tessera_gptq_header& header() const { return h_; }

  // Every documented invariant of the header, as gtest expectations.
  void expect_consistent(uint32_t bits, uint64_t in, uint64_t out, uint32_t group_size) const {
    EXPECT_EQ(h_.magic, TESSERA_GPTQ_MAGIC);
    EXPECT_EQ(h_.version, TESSERA_GPTQ_LAYOUT_VERSION);
    EXPECT_EQ(h_.bits, bits);
    EXPECT_EQ(h_.in_features, in);
    EXPECT_EQ(h_.out_features, out);
    EXPECT_EQ(h_.group_size, group_size);
    EXPECT_EQ(h_.n_groups, (in + group_size - 1) / group_size);
    EXPECT_EQ(h_.total_bytes, size_);
    const uint64_t offsets[] = {h_.qweight_offset, h_.scales_offset, h_.zeros_offset, h_.perm_offset};
    for (uint64_t o : offsets) EXPECT_EQ(o % 64, 0u);
    EXPECT_GE(h_.qweight_offset, sizeof(tessera_gptq_header));
    EXPECT_GE(h_.scales_offset, h_.qweight_offset + in * bits / 32 * out * 4);
    EXPECT_GE(h_.zeros_offset, h_.scales_offset + uint64_t{h_.n_groups} * out * 2);
    EXPECT_GE(h_.perm_offset, h_.zeros_offset + uint64_t{h_.n_groups} * out);
    EXPECT_GE(h_.total_bytes, h_.perm_offset + in * 4);
    for (uint64_t r : h_.reserved) EXPECT_EQ(r, 0u);
  }

  // Bit k*bits of column n's stream of words (r, n).
  uint32_t code(uint64_t k, uint64_t n) const {
    const uint64_t bit = k * h_.bits;
    const uint64_t lo = word(bit / 32, n);
    const uint64_t hi = (bit % 32) + h_.bits > 32 ? word(bit / 32 + 1, n) : 0;
    return static_cast<uint32_t>(((lo | (hi << 32)) >> (bit % 32)) & ((1u << h_.bits) - 1));
  }
  uint32_t zero(uint64_t g, uint64_t n) const { return data_[h_.zeros_offset + g * h_.out_features + n]; }
  float scale(uint64_t g, uint64_t n) const {
    uint16_t s;
    std::memcpy(&s, data_ + h_.scales_offset + 2 * (g * h_.out_features + n), 2);
    return quant::f16_to_f32(s);
  }
  int32_t perm(uint64_t k) const {
    int32_t p;
    std::memcpy(&p, data_ + h_.perm_offset + 4 * k, 4);
    return p;
  }
  // W[n, perm[k]] = scale * (q - zero), per gptq.h.
  float weight_at_row(uint64_t k, uint64_t n) const {
    const uint64_t g = k / h_.group_size;
    return scale(g, n) * (static_cast<float>(code(k, n)) - static_cast<float>(zero(g, n)));
  }

 private:
  uint64_t word(uint64_t r, uint64_t n) const {
    uint32_t w;
    std::memcpy(&w, data_ + h_.qweight_offset + 4 * (r * h_.out_features + n), 4);
    return w;
  }
  const uint8_t* data_;
  uint64_t size_;
  tessera_gptq_header h_{};
};

}  // namespace tessera::test::gptq
