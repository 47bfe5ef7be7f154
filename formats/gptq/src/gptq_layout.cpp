#include "gptq_layout.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "tessera/cpp/plugin.hpp"

namespace tessera::gptq {
namespace {

uint64_t align64(uint64_t n) { return (n + 63) / 64 * 64; }

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Reads `bits` bits at bit position `bit` of a stream whose word i is at
// `word_at(i)`; a code may straddle two words (3-bit packing).
template <class WordAt>
uint32_t read_bits(WordAt word_at, uint32_t bits, uint64_t bit) {
  const uint64_t w = bit / 32;
  const uint32_t shift = static_cast<uint32_t>(bit % 32);
  uint64_t v = word_at(w) >> shift;
  if (shift + bits > 32) v |= static_cast<uint64_t>(word_at(w + 1)) << (32 - shift);
  return static_cast<uint32_t>(v & ((1u << bits) - 1));
}

[[noreturn]] void fail(const GptqSource& s, const std::string& what) {
  throw sdk::Error(TESSERA_ERR_FORMAT, s.file + ": tensor '" + s.name + ".g_idx': " + what);
}

// Input-row order: identity unless g_idx differs from k / group_size, then
// rows sorted by group (stable), as act-order kernels expect.
std::vector<int32_t> input_order(const GptqSource& s, uint32_t n_groups, bool& act_order) {
  std::vector<int32_t> perm(s.in_features);
  std::iota(perm.begin(), perm.end(), 0);
  act_order = false;
  if (s.g_idx == nullptr) return perm;
  std::vector<uint32_t> group(s.in_features);
  for (uint64_t k = 0; k < s.in_features; ++k) {
    const auto g = static_cast<int32_t>(load_u32(s.g_idx + 4 * k));
    if (g < 0 || static_cast<uint32_t>(g) >= n_groups)
      fail(s, "entry " + std::to_string(k) + " is " + std::to_string(g) + "; expected a group index in [0, " +
                  std::to_string(n_groups) + ")");
    group[k] = static_cast<uint32_t>(g);
    if (group[k] != k / s.group_size) act_order = true;
  }
  if (!act_order) return perm;
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) {
    return group[static_cast<size_t>(a)] < group[static_cast<size_t>(b)];
  });
  for (uint64_t k = 0; k < s.in_features; ++k)
    if (group[static_cast<size_t>(perm[k])] != k / s.group_size) {
      const uint32_t g = static_cast<uint32_t>(k / s.group_size);
      const auto members = std::count(group.begin(), group.end(), g);
      fail(s, "group " + std::to_string(g) + " has " + std::to_string(members) + " rows; expected " +
                  std::to_string(std::min<uint64_t>(s.group_size, s.in_features - uint64_t{g} * s.group_size)) +
                  " (every group must be group_size rows for the act-order layout)");
    }
  return perm;
}

// qweight with row k taken from source row perm[k] and column n from
// column_source[n] (identity when empty). Rows come in random order, so the
// columns are done in tiles whose source and destination words fit in L2.
std::vector<uint32_t> repack_rows(const GptqSource& s, const std::vector<int32_t>& perm,
                                  const std::vector<uint32_t>& column_source) {
  const uint64_t K = s.in_features, N = s.out_features;
  constexpr uint64_t kTileColumns = 128;
  std::vector<uint32_t> words(K * s.bits / 32 * N, 0u);
  auto col = [&](uint64_t n) -> uint64_t { return column_source.empty() ? n : column_source[n]; };
  for (uint64_t n0 = 0; n0 < N; n0 += kTileColumns) {
    const uint64_t n1 = std::min(N, n0 + kTileColumns);
    for (uint64_t k = 0; k < K; ++k) {
      const uint64_t from_bit = static_cast<uint64_t>(perm[k]) * s.bits, to_bit = k * s.bits;
      uint32_t* dst = words.data() + (to_bit / 32) * N;
      const auto to_shift = static_cast<uint32_t>(to_bit % 32);
      if (32 % s.bits == 0) {  // 4 and 8 bits: no code straddles two words
        const uint8_t* src = s.qweight + 4 * (from_bit / 32) * N;
        const auto from_shift = static_cast<uint32_t>(from_bit % 32);
        const uint32_t mask = (1u << s.bits) - 1;
        for (uint64_t n = n0; n < n1; ++n) dst[n] |= ((load_u32(src + 4 * col(n)) >> from_shift) & mask) << to_shift;
        continue;
      }
      for (uint64_t n = n0; n < n1; ++n) {
        const uint64_t code = read_packed_code(s.qweight, N, s.bits, from_bit / s.bits, col(n));
        const uint64_t shifted = code << to_shift;
        dst[n] |= static_cast<uint32_t>(shifted);
        if (shifted >> 32) dst[N + n] |= static_cast<uint32_t>(shifted >> 32);
      }
    }
  }
  return words;
}

}  // namespace

uint32_t group_count(uint64_t in_features, uint32_t group_size) {
  return static_cast<uint32_t>((in_features + group_size - 1) / group_size);
}

uint32_t read_packed_code(const uint8_t* words, uint64_t columns, uint32_t bits, uint64_t k, uint64_t n) {
  return read_bits([&](uint64_t r) { return load_u32(words + 4 * (r * columns + n)); }, bits, k * bits);
}

tessera_gptq_header plan_gptq_header(uint32_t bits, uint64_t in_features, uint64_t out_features, uint32_t group_size) {
  tessera_gptq_header h{};
  h.magic = TESSERA_GPTQ_MAGIC;
  h.version = TESSERA_GPTQ_LAYOUT_VERSION;
  h.bits = bits;
  h.group_size = group_size;
  h.in_features = in_features;
  h.out_features = out_features;
  h.n_groups = group_count(in_features, group_size);
  h.qweight_offset = align64(sizeof(tessera_gptq_header));
  h.scales_offset = align64(h.qweight_offset + in_features * bits / 32 * out_features * 4);
  h.zeros_offset = align64(h.scales_offset + uint64_t{h.n_groups} * out_features * 2);
  h.perm_offset = align64(h.zeros_offset + uint64_t{h.n_groups} * out_features);
  h.total_bytes = align64(h.perm_offset + in_features * 4);
  return h;
}

OwnedBytes build_gptq_tensor(const GptqSource& s, const std::vector<uint32_t>& column_source) {
  const uint64_t K = s.in_features, N = s.out_features;
  tessera_gptq_header h = plan_gptq_header(s.bits, K, N, s.group_size);
  bool act_order = false;
  const std::vector<int32_t> perm = input_order(s, h.n_groups, act_order);
  h.flags = (act_order ? uint32_t{TESSERA_GPTQ_FLAG_ACT_ORDER} : 0u) | (s.sym ? uint32_t{TESSERA_GPTQ_FLAG_SYMMETRIC} : 0u);
  auto col = [&](uint64_t n) -> uint64_t { return column_source.empty() ? n : column_source[n]; };

  OwnedBytes out(h.total_bytes);
  uint8_t* base = out.data();
  std::memcpy(base, &h, sizeof h);

  // qweight: codes of row perm[k] of source column col(n) at row k, column n.
  const uint64_t word_rows = K * s.bits / 32;
  uint8_t* qw = base + h.qweight_offset;
  if (!act_order && column_source.empty()) {
    std::memcpy(qw, s.qweight, word_rows * N * 4);
  } else if (!act_order) {
    for (uint64_t r = 0; r < word_rows; ++r)
      for (uint64_t n = 0; n < N; ++n) std::memcpy(qw + 4 * (r * N + n), s.qweight + 4 * (r * N + col(n)), 4);
  } else {
    const std::vector<uint32_t> words = repack_rows(s, perm, column_source);
    std::memcpy(qw, words.data(), words.size() * 4);
  }

  // scales and zeros: per group, columns permuted; zeros unpacked (+1 for v1).
  const uint64_t zero_words = N * s.bits / 32;
  uint8_t* scales = base + h.scales_offset;
  uint8_t* zeros = base + h.zeros_offset;
  for (uint64_t g = 0; g < h.n_groups; ++g) {
    const uint8_t* zrow = s.qzeros + 4 * g * zero_words;
    for (uint64_t n = 0; n < N; ++n) {
      std::memcpy(scales + 2 * (g * N + n), s.scales + 2 * (g * N + col(n)), 2);
      const uint32_t stored = read_bits([&](uint64_t w) { return load_u32(zrow + 4 * w); }, s.bits, col(n) * s.bits);
      const uint32_t zero = stored + (s.zeros_minus_one ? 1u : 0u);
      if (zero > 255)  // only a v1 8-bit zero stored as -1 (AutoGPTQ's zero-0 bug) gets here
        throw sdk::Error(TESSERA_ERR_FORMAT, s.file + ": tensor '" + s.name + ".qzeros': group " + std::to_string(g) +
                                                 ", column " + std::to_string(col(n)) + " stores 255; a v1 (zero - 1) "
                                                 "8-bit zero point must be at most 254");
      zeros[g * N + n] = static_cast<uint8_t>(zero);
    }
  }
  std::memcpy(base + h.perm_offset, perm.data(), 4 * K);
  return out;
}

}  // namespace tessera::gptq
