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

// Input-row order: empty (the identity) unless g_idx differs from
// k / group_size, then rows sorted by group (stable), as act-order kernels
// expect.
std::vector<int32_t> input_order(const GptqSource& s, uint32_t n_groups) {
  if (s.g_idx == nullptr) return {};
  std::vector<uint32_t> group(s.in_features);
  bool act_order = false;
  for (uint64_t k = 0; k < s.in_features; ++k) {
    const auto g = static_cast<int32_t>(load_u32(s.g_idx + 4 * k));
    if (g < 0 || static_cast<uint32_t>(g) >= n_groups)
      fail(s, "entry " + std::to_string(k) + " is " + std::to_string(g) + "; expected a group index in [0, " +
                  std::to_string(n_groups) + ")");
    group[k] = static_cast<uint32_t>(g);
    if (group[k] != k / s.group_size) act_order = true;
  }
  if (!act_order) return {};
  std::vector<int32_t> perm(s.in_features);
  std::iota(perm.begin(), perm.end(), 0);
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

// Zero point as stored in the checkpoint (before the v1 correction).
uint32_t stored_zero(const GptqSource& s, uint64_t group, uint64_t column) {
  const uint8_t* row = s.qzeros + 4 * group * (s.out_features * s.bits / 32);
  return read_bits([&](uint64_t w) { return load_u32(row + 4 * w); }, s.bits, column * s.bits);
}

// AutoGPTQ v1 stores zero - 1, so a group whose zero point is 0 stores -1:
// 255 in 8 bits, which AutoGPTQ reads back as 256. The layout's zero points
// are one byte (tessera/gptq.h), so 256 cannot be represented; 4- and 3-bit
// v1 zeros top out at 16 and 8 and always fit.
void check_zeros_fit(const GptqSource& s, uint32_t n_groups) {
  if (!s.zeros_minus_one || s.bits != 8) return;
  for (uint64_t g = 0; g < n_groups; ++g)
    for (uint64_t n = 0; n < s.out_features; ++n)
      if (stored_zero(s, g, n) == 255)
        throw sdk::Error(TESSERA_ERR_UNSUPPORTED,
                         s.file + ": tensor '" + s.name + ".qzeros': group " + std::to_string(g) + ", column " +
                             std::to_string(n) + " stores 255, which AutoGPTQ v1 (checkpoint_format \"gptq\", zero - 1 "
                             "stored) computes with as zero point 256; tessera's GPTQ layout keeps zero points in one "
                             "byte (0-255), so v1 8-bit zeros must be stored as at most 254");
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

GptqPlan plan_gptq_tensor(const GptqSource& s, std::vector<uint32_t> column_source) {
  GptqPlan p;
  p.src = s;
  p.column_source = std::move(column_source);
  p.header = plan_gptq_header(s.bits, s.in_features, s.out_features, s.group_size);
  p.perm = input_order(s, p.header.n_groups);
  check_zeros_fit(s, p.header.n_groups);
  p.header.flags = (p.perm.empty() ? 0u : uint32_t{TESSERA_GPTQ_FLAG_ACT_ORDER}) |
                   (s.sym ? uint32_t{TESSERA_GPTQ_FLAG_SYMMETRIC} : 0u);
  return p;
}

void write_gptq_tensor(const GptqPlan& p, uint8_t* dst) {
  const GptqSource& s = p.src;
  const tessera_gptq_header& h = p.header;
  const uint64_t K = s.in_features, N = s.out_features, word_rows = K * s.bits / 32;
  auto col = [&](uint64_t n) -> uint64_t { return p.column_source.empty() ? n : p.column_source[n]; };

  // The reader's memory is not zeroed: clear the padding after each section.
  const uint64_t ends[][2] = {{sizeof h, h.qweight_offset},
                              {h.qweight_offset + word_rows * N * 4, h.scales_offset},
                              {h.scales_offset + uint64_t{h.n_groups} * N * 2, h.zeros_offset},
                              {h.zeros_offset + uint64_t{h.n_groups} * N, h.perm_offset},
                              {h.perm_offset + 4 * K, h.total_bytes}};
  for (const auto& [from, to] : ends) std::memset(dst + from, 0, to - from);
  std::memcpy(dst, &h, sizeof h);

  // qweight: codes of row perm[k] of source column col(n) at row k, column n.
  uint8_t* qw = dst + h.qweight_offset;
  if (p.perm.empty() && p.column_source.empty()) {
    std::memcpy(qw, s.qweight, word_rows * N * 4);
  } else if (p.perm.empty()) {
    for (uint64_t r = 0; r < word_rows; ++r)
      for (uint64_t n = 0; n < N; ++n) std::memcpy(qw + 4 * (r * N + n), s.qweight + 4 * (r * N + col(n)), 4);
  } else {
    const std::vector<uint32_t> words = repack_rows(s, p.perm, p.column_source);
    std::memcpy(qw, words.data(), words.size() * 4);
  }

  // scales and zeros: per group, columns permuted; zeros unpacked (+1 for v1,
  // which plan_gptq_tensor checked fits a byte).
  uint8_t* scales = dst + h.scales_offset;
  uint8_t* zeros = dst + h.zeros_offset;
  for (uint64_t g = 0; g < h.n_groups; ++g)
    for (uint64_t n = 0; n < N; ++n) {
      std::memcpy(scales + 2 * (g * N + n), s.scales + 2 * (g * N + col(n)), 2);
      zeros[g * N + n] = static_cast<uint8_t>(stored_zero(s, g, col(n)) + (s.zeros_minus_one ? 1u : 0u));
    }

  uint8_t* perm = dst + h.perm_offset;
  for (uint64_t k = 0; k < K; ++k) {
    const int32_t row = p.perm.empty() ? static_cast<int32_t>(k) : p.perm[k];
    std::memcpy(perm + 4 * k, &row, 4);
  }
}

}  // namespace tessera::gptq
