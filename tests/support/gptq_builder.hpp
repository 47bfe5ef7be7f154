// Builds GPTQ tensors (tessera/gptq.h) from float weights for tests, with no
// dependency on the GPTQ format plugin: round-to-nearest quantization per
// group (symmetric or asymmetric, as AutoGPTQ's quantizer computes scale and
// zero), optional act-order with a random g_idx, whose rows are then sorted
// by group (stable) into `perm` the way the format plugin lays them out.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "tessera/gptq.h"
#include "tessera/quant/half.hpp"

namespace tessera::test {

struct GptqSpec {
  uint32_t bits = 4;         // 3, 4 or 8
  uint64_t k = 0, n = 0;     // in_features (multiple of 32), out_features (multiple of 8)
  int64_t group_size = 128;  // -1: one group of k rows
  bool sym = false;
  bool act_order = false;  // random g_idx (seeded), rows sorted by group
  uint32_t seed = 1;
};

struct GptqTensor {
  std::vector<uint8_t> bytes;     // the whole tensor, header first (64-byte aligned in use: copy into a buffer)
  std::vector<int32_t> g_idx;     // group of each ORIGINAL input row
  std::vector<float> scale_used;  // [n_groups][n] f16-rounded scales, as floats
  tessera_gptq_header header{};
};

inline uint64_t gptq_align64(uint64_t v) { return (v + 63) / 64 * 64; }

// `w` is row-major [n][k]: output feature n, ORIGINAL input row k.
inline GptqTensor build_gptq(const GptqSpec& s, const std::vector<float>& w) {
  const uint64_t K = s.k, N = s.n;
  const uint32_t gs = s.group_size < 0 ? static_cast<uint32_t>(K) : static_cast<uint32_t>(s.group_size);
  const uint32_t groups = static_cast<uint32_t>((K + gs - 1) / gs);
  const uint32_t maxq = (1u << s.bits) - 1;
  GptqTensor out;
  tessera_gptq_header& h = out.header;
  h.magic = TESSERA_GPTQ_MAGIC;
  h.version = TESSERA_GPTQ_LAYOUT_VERSION;
  h.bits = s.bits;
  h.group_size = gs;
  h.in_features = K;
  h.out_features = N;
  h.n_groups = groups;
  h.flags =
      (s.act_order ? uint32_t{TESSERA_GPTQ_FLAG_ACT_ORDER} : 0u) | (s.sym ? uint32_t{TESSERA_GPTQ_FLAG_SYMMETRIC} : 0u);
  h.qweight_offset = gptq_align64(sizeof h);
  h.scales_offset = gptq_align64(h.qweight_offset + K * s.bits / 32 * N * 4);
  h.zeros_offset = gptq_align64(h.scales_offset + uint64_t{groups} * N * 2);
  h.perm_offset = gptq_align64(h.zeros_offset + uint64_t{groups} * N);
  h.total_bytes = gptq_align64(h.perm_offset + K * 4);

  // g_idx: k / gs, or (act-order) the groups dealt to a random shuffle of the rows.
  out.g_idx.resize(K);
  std::vector<int32_t> order(K);
  std::iota(order.begin(), order.end(), 0);
  if (s.act_order) {
    std::mt19937 rng(s.seed);
    std::shuffle(order.begin(), order.end(), rng);
  }
  for (uint64_t j = 0; j < K; ++j) out.g_idx[static_cast<size_t>(order[j])] = static_cast<int32_t>(j / gs);
  std::vector<int32_t> perm(K);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) {
    return out.g_idx[static_cast<size_t>(a)] < out.g_idx[static_cast<size_t>(b)];
  });

  out.bytes.assign(h.total_bytes, 0);
  uint8_t* base = out.bytes.data();
  std::memcpy(base, &h, sizeof h);
  auto* qweight = reinterpret_cast<uint32_t*>(base + h.qweight_offset);
  auto* scales = reinterpret_cast<uint16_t*>(base + h.scales_offset);
  uint8_t* zeros = base + h.zeros_offset;
  std::memcpy(base + h.perm_offset, perm.data(), K * 4);
  out.scale_used.resize(uint64_t{groups} * N);

  for (uint32_t g = 0; g < groups; ++g) {
    const uint64_t k0 = uint64_t{g} * gs, k1 = std::min<uint64_t>(K, k0 + gs);
    for (uint64_t n = 0; n < N; ++n) {
      float lo = 0, hi = 0;  // AutoGPTQ includes 0 in the range
      for (uint64_t k = k0; k < k1; ++k) {
        const float v = w[n * K + static_cast<uint64_t>(perm[k])];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      if (s.sym) {
        const float m = std::max(std::fabs(lo), hi);
        lo = -m;
        hi = m;
      }
      float scale = (hi - lo) / static_cast<float>(maxq);
      if (scale == 0) scale = 1;
      const uint16_t scale_h = quant::f32_to_f16(scale);
      const float sc = quant::f16_to_f32(scale_h);
      const uint32_t zero =
          s.sym ? (maxq + 1) / 2
                : static_cast<uint32_t>(std::clamp(std::nearbyint(-lo / sc), 0.0f, static_cast<float>(maxq)));
      scales[uint64_t{g} * N + n] = scale_h;
      zeros[uint64_t{g} * N + n] = static_cast<uint8_t>(zero);
      out.scale_used[uint64_t{g} * N + n] = sc;
      for (uint64_t k = k0; k < k1; ++k) {
        const float v = w[n * K + static_cast<uint64_t>(perm[k])];
        const float q = std::clamp(std::nearbyint(v / sc) + static_cast<float>(zero), 0.0f, static_cast<float>(maxq));
        // Sorted row k's code at bit k * bits of column n's word stream.
        const uint64_t code = static_cast<uint64_t>(q), bit = k * s.bits, word = bit / 32;
        const uint64_t shifted = code << (bit % 32);
        qweight[word * N + n] |= static_cast<uint32_t>(shifted);
        if (shifted >> 32) qweight[(word + 1) * N + n] |= static_cast<uint32_t>(shifted >> 32);
      }
    }
  }
  return out;
}

}  // namespace tessera::test
