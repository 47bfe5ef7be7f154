// tessera/quant/gptq.hpp - reference reading of the GPTQ layout of
// tessera/gptq.h: header validation, code extraction, the per-group math and
// scalar dequantization. Like dequantize.hpp this is the ground truth fast
// kernels (AVX-512, CUDA) are tested against; the small per-element and
// per-group functions are TESSERA_HD so device code can share them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tessera/gptq.h"
#include "tessera/quant/half.hpp"
#include "tessera/types.h"

namespace tessera::quant {

// Bits per code of a GPTQ dtype; 0 for every other dtype.
TESSERA_HD constexpr uint32_t gptq_bits_of(int32_t dtype) {
  return dtype == TESSERA_DTYPE_GPTQ_4BIT   ? 4u
         : dtype == TESSERA_DTYPE_GPTQ_8BIT ? 8u
         : dtype == TESSERA_DTYPE_GPTQ_3BIT ? 3u
                                            : 0u;
}

// Rows of one packing unit: every group is a whole number of these, so a
// qweight word never holds codes of two groups (8 rows of 4 bits, 4 of 8
// bits, 32 rows over three words of 3 bits; 32 covers all three).
inline constexpr uint64_t kGptqRowUnit = 32;

// The sections of a validated GPTQ tensor, as typed pointers.
struct GptqView {
  uint32_t bits;
  uint64_t k, n;  // in_features, out_features
  uint32_t group_size, n_groups;
  const uint32_t* qweight;  // [k * bits / 32][n]
  const uint16_t* scales;   // [n_groups][n], IEEE half
  const uint8_t* zeros;     // [n_groups][n]
  const int32_t* perm;      // [k]
};

TESSERA_HD inline GptqView gptq_view(const void* base) {
  const auto* bytes = static_cast<const uint8_t*>(base);
  const auto* h = static_cast<const tessera_gptq_header*>(base);
  GptqView v;
  v.bits = h->bits;
  v.k = h->in_features;
  v.n = h->out_features;
  v.group_size = h->group_size;
  v.n_groups = h->n_groups;
  v.qweight = reinterpret_cast<const uint32_t*>(bytes + h->qweight_offset);
  v.scales = reinterpret_cast<const uint16_t*>(bytes + h->scales_offset);
  v.zeros = bytes + h->zeros_offset;
  v.perm = reinterpret_cast<const int32_t*>(bytes + h->perm_offset);
  return v;
}

// The `bits`-bit code of (sorted) row k in column n. A column's words form
// one little-endian bit stream, row k at bit k * bits: this is AutoGPTQ's
// packing for 4 and 8 bits and for its three-words-per-32-rows 3-bit order.
TESSERA_HD inline uint32_t gptq_code(const uint32_t* qweight, uint64_t n_cols, uint32_t bits, uint64_t k, uint64_t n) {
  const uint64_t bit = k * bits, word = bit / 32;
  const uint32_t shift = static_cast<uint32_t>(bit % 32);
  uint64_t v = qweight[word * n_cols + n] >> shift;
  if (shift + bits > 32) v |= static_cast<uint64_t>(qweight[(word + 1) * n_cols + n]) << (32 - shift);
  return static_cast<uint32_t>(v) & ((1u << bits) - 1u);
}

// One weight: scale * (q - zero). Both integers are exact in float, so the
// only rounding is the product's.
TESSERA_HD inline float gptq_weight(float scale, uint32_t q, uint32_t zero) {
  return scale * (static_cast<float>(q) - static_cast<float>(zero));
}

// A group's contribution to a dot product, from sum(q * x) and sum(x) over
// the group's rows: sum(scale * (q - zero) * x) = scale * (sum_qx - zero * sum_x).
// The fast kernels' form: the scale and zero leave the inner loop.
TESSERA_HD inline float gptq_group_dot(float scale, uint32_t zero, float sum_qx, float sum_x) {
  return scale * (sum_qx - static_cast<float>(zero) * sum_x);
}

// W[n, perm[k]] for sorted row k of output column n.
TESSERA_HD inline float gptq_dequantize_at(const GptqView& v, uint64_t k, uint64_t n) {
  const uint64_t g = k / v.group_size;
  return gptq_weight(f16_to_f32(v.scales[g * v.n + n]), gptq_code(v.qweight, v.n, v.bits, k, n), v.zeros[g * v.n + n]);
}

// Output column n as a weight row in the ORIGINAL input order:
// row[perm[k]] = W[n, perm[k]], i.e. row holds K floats ready for a plain
// dot product with x. The tensor must have passed gptq_check.
TESSERA_HD inline void gptq_dequantize_column(const GptqView& v, uint64_t n, float* row) {
  for (uint64_t k = 0; k < v.k; ++k) row[v.perm[k]] = gptq_dequantize_at(v, k, n);
}

// The whole weight as a row-major float matrix W[N][K] (K in original input
// order), the layout of an F32 mul_mat weight with ne = {K, N}.
inline void gptq_dequantize(const void* base, float* w) {
  const GptqView v = gptq_view(base);
  for (uint64_t n = 0; n < v.n; ++n) gptq_dequantize_column(v, n, w + n * v.k);
}

namespace gptq_detail {

inline bool section_fits(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

inline std::string u(uint64_t v) { return std::to_string(v); }

}  // namespace gptq_detail

// Checks a GPTQ tensor of `dtype` whose graph shape is ne0 x ne1 and whose
// first `available` bytes are readable at `base` (the header may be
// unaligned in memory: it is copied). Returns "" when the layout is sound
// (every section inside total_bytes <= available, every perm entry in
// [0, K) and named once), otherwise what is wrong: the field, its value and the expected one.
inline std::string gptq_check(const void* base, uint64_t available, int32_t dtype, int64_t ne0, int64_t ne1) {
  using gptq_detail::u;
  const uint32_t bits = gptq_bits_of(dtype);
  if (bits == 0) return "dtype " + std::to_string(dtype) + " is not a GPTQ dtype";
  if (available < sizeof(tessera_gptq_header))
    return "holds " + u(available) + " bytes, less than the " + u(sizeof(tessera_gptq_header)) + "-byte GPTQ header";
  tessera_gptq_header h;
  std::memcpy(&h, base, sizeof h);
  if (h.magic != TESSERA_GPTQ_MAGIC)
    return "header magic is " + u(h.magic) + ", expected " + u(TESSERA_GPTQ_MAGIC) + " ('GPTQ')";
  if (h.version != TESSERA_GPTQ_LAYOUT_VERSION)
    return "header version is " + u(h.version) + ", expected " + u(TESSERA_GPTQ_LAYOUT_VERSION);
  if (h.bits != bits) return "header bits is " + u(h.bits) + ", expected " + u(bits) + " for this dtype";
  if (h.in_features == 0 || h.in_features % 32 != 0 || h.in_features > (uint64_t{1} << 31))
    return "header in_features is " + u(h.in_features) + ", expected a positive multiple of 32 up to 2^31";
  if (h.out_features == 0 || h.out_features % 8 != 0 || h.out_features > (uint64_t{1} << 31))
    return "header out_features is " + u(h.out_features) + ", expected a positive multiple of 8 up to 2^31";
  if (ne0 >= 0 && h.in_features != static_cast<uint64_t>(ne0))
    return "header in_features is " + u(h.in_features) + ", expected the tensor's ne[0] = " + std::to_string(ne0);
  if (ne1 >= 0 && h.out_features != static_cast<uint64_t>(ne1))
    return "header out_features is " + u(h.out_features) + ", expected the tensor's ne[1] = " + std::to_string(ne1);
  if (h.group_size == 0 || h.group_size % kGptqRowUnit != 0)
    return "header group_size is " + u(h.group_size) + ", expected a positive multiple of " + u(kGptqRowUnit);
  const uint64_t groups = (h.in_features + h.group_size - 1) / h.group_size;
  if (h.n_groups != groups)
    return "header n_groups is " + u(h.n_groups) + ", expected ceil(in_features / group_size) = " + u(groups);
  if ((h.flags & ~uint32_t{TESSERA_GPTQ_FLAG_ACT_ORDER | TESSERA_GPTQ_FLAG_SYMMETRIC}) != 0)
    return "header flags is " + u(h.flags) + ", which sets bits this reader does not know";
  for (int i = 0; i < 6; ++i)
    if (h.reserved[i] != 0) return "header reserved[" + std::to_string(i) + "] is " + u(h.reserved[i]) + ", expected 0";
  if (h.total_bytes > available)
    return "header total_bytes is " + u(h.total_bytes) + ", more than the " + u(available) + " bytes the tensor holds";
  const uint64_t k = h.in_features, n = h.out_features;
  struct Section {
    const char* name;
    uint64_t offset, size;
  };
  const Section sections[] = {{"qweight", h.qweight_offset, k * bits / 32 * n * 4},
                              {"scales", h.scales_offset, groups * n * 2},
                              {"zeros", h.zeros_offset, groups * n},
                              {"perm", h.perm_offset, k * 4}};
  for (const Section& s : sections) {
    const std::string field = std::string("header ") + s.name + "_offset is " + u(s.offset);
    if (s.offset < sizeof(tessera_gptq_header)) return field + ", inside the header";
    if (s.offset % 64 != 0) return field + ", expected a multiple of 64";
    if (!gptq_detail::section_fits(s.offset, s.size, h.total_bytes))
      return field + ": its " + u(s.size) + " bytes end past total_bytes = " + u(h.total_bytes);
  }
  const auto* bytes = static_cast<const uint8_t*>(base);
  std::vector<bool> seen(k, false);
  for (uint64_t i = 0; i < k; ++i) {
    int32_t p;
    std::memcpy(&p, bytes + h.perm_offset + 4 * i, sizeof p);
    if (p < 0 || static_cast<uint64_t>(p) >= k)
      return "perm[" + u(i) + "] is " + std::to_string(p) + ", expected an input row in [0, " + u(k) + ")";
    if (seen[static_cast<uint64_t>(p)])
      return "perm[" + u(i) + "] is " + std::to_string(p) +
             ", a row an earlier entry names (perm must be a permutation)";
    seen[static_cast<uint64_t>(p)] = true;
  }
  return {};
}

}  // namespace tessera::quant
