// Host-side parts of the cuda plugin's matrix-product kernels, testable
// without a GPU: the path and workspace planning (plan.hpp), the 8-value
// chunk decoders every quantized kernel uses (decode.cuh, compiled here as
// host functions) against the SDK's reference dequantize_block, and the GPTQ
// unit bit extraction against quant::gptq_code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/mul_mat/decode.cuh"
#include "kernels/mul_mat/gptq_unit.cuh"
#include "kernels/mul_mat/mat_vec_tile.cuh"
#include "kernels/mul_mat/plan.hpp"
#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/gptq.hpp"
#include "tessera/quant/quantize.hpp"

namespace tessera::cuda::mm {
namespace {

std::vector<float> random_floats(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST(cuda_mul_mat_plan, SupportedTypesAreTheReferenceDequantizersTypesAndGptq) {
  const float src[256] = {};
  for (int32_t d = -1; d < 1010; ++d) {
    std::vector<float> out(256);
    const bool reference = d < 1000 && quant::dequantize_row(d, src, out.data(), 0);
    const bool expected = reference || quant::gptq_bits_of(d) != 0;
    EXPECT_EQ(supported(d), expected) << "dtype " << d;
  }
}

TEST(cuda_mul_mat_plan, DecodeSizedBatchesTakeMatVecLargerOnesTheGemm) {
  for (int64_t rows = 1; rows <= kMatVecRowLimit; ++rows) EXPECT_EQ(choose_path(rows), Path::mat_vec) << rows;
  for (int64_t rows : {kMatVecRowLimit + 1, int64_t{64}, int64_t{300}, int64_t{4096}})
    EXPECT_EQ(choose_path(rows), Path::mat_mat) << rows;
  EXPECT_LE(kMatVecMaxRows, kMatVecRowLimit);
}

TEST(cuda_mul_mat_plan, SlabsBoundTheScratchAndCoverTheWeight) {
  for (int64_t k : {32, 4096, 11008, 1 << 20, 1 << 24})
    for (int64_t n : {1, 64, 100, 4096, 32000, 152064}) {
      const int64_t s = slab_rows(k, n);
      ASSERT_GE(s, 1);
      EXPECT_LE(s, n);
      if (s < n) {
        EXPECT_EQ(s % 64, 0) << k << " x " << n;
        EXPECT_TRUE(s * k <= kSlabElements || s == 64) << k << " x " << n;
      } else {
        EXPECT_TRUE(k * n <= kSlabElements || s == 64 || n <= 64) << k << " x " << n;
      }
    }
  EXPECT_EQ(slab_rows(4096, 4096), 4096);  // 16 Mi elements: one slab
  EXPECT_EQ(slab_rows(4096, 32000), 8192);  // 32 Mi / 4096
}

TEST(cuda_mul_mat_plan, GemmWorkspaceLayout) {
  const MatMatPlan f32 = mat_mat_plan(TESSERA_DTYPE_F32, 4096, 4096, 300);
  EXPECT_EQ(f32.total_bytes, 0u);  // F32 weights: cuBLAS straight on the tensors
  const MatMatPlan f16 = mat_mat_plan(TESSERA_DTYPE_F16, 4096, 4096, 300);
  EXPECT_EQ(f16.x_bytes, 300u * 4096 * 2);
  EXPECT_EQ(f16.weight_bytes, 0u);
  EXPECT_GE(f16.total_bytes, f16.x_bytes);
  for (int32_t d : {TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_GPTQ_4BIT}) {
    const MatMatPlan p = mat_mat_plan(d, 11008, 4096, 77);
    EXPECT_EQ(p.x_offset, 0u);
    EXPECT_EQ(p.x_bytes, 77u * 11008 * 2);
    EXPECT_EQ(p.weight_offset % 256, 0u);
    EXPECT_GE(p.weight_offset, p.x_bytes);
    EXPECT_EQ(p.weight_bytes, static_cast<uint64_t>(p.slab_rows) * 11008 * 2);
    EXPECT_GE(p.total_bytes, p.weight_offset + p.weight_bytes);
    EXPECT_EQ(p.total_bytes % 256, 0u);
  }
  EXPECT_EQ(kGptqSplitRows % 32, 0);  // whole packing units per split
  EXPECT_EQ(gptq_splits(4096), 4096 / kGptqSplitRows);
  EXPECT_EQ(gptq_splits(4096 + 32), 4096 / kGptqSplitRows + 1);
  EXPECT_EQ(gptq_mat_vec_bytes(4096, 11008, 3), static_cast<uint64_t>(gptq_splits(4096)) * 3 * 11008 * 4);
}

// The block mat-vec of one weight row with its 32 lanes run one after the
// other (mat_vec.cu runs them as a warp): tiles copied to the "shared" buffer
// from every misalignment the row can have, then each lane's chunks
// multiplied with 3 rows of x, summed over lanes, against a double-precision
// dot product with the SDK's dequantized row.
template <class Block>
void expect_warp_emulation_matches_reference(int32_t dtype, const std::string& name) {
  using T = Tile<Block>;
  constexpr int kElems = Decoder<Block>::kElems;
  const int64_t blocks = 2 * T::kBlocks + 3;  // two full tiles and a partial one
  const int64_t k = blocks * kElems;
  const uint64_t row_bytes = static_cast<uint64_t>(blocks) * sizeof(Block);
  const std::vector<float> w = random_floats(static_cast<std::size_t>(k), 100u + static_cast<uint32_t>(dtype));
  std::vector<uint8_t> q(row_bytes);
  ASSERT_TRUE(quant::quantize_row(dtype, w.data(), q.data(), k)) << name;
  std::vector<float> wref(static_cast<std::size_t>(k));
  ASSERT_TRUE(quant::dequantize_row(dtype, q.data(), wref.data(), k)) << name;

  const int rows = 3;
  for (const bool x_vec4 : {true, false}) {
    const int64_t xs = x_vec4 ? k + 4 : k + 1;
    std::vector<float4> x_storage(static_cast<std::size_t>((rows * xs + 3) / 4));  // 16-byte aligned
    auto* x = reinterpret_cast<float*>(x_storage.data());
    const std::vector<float> xv = random_floats(static_cast<std::size_t>(rows * xs), 5);
    std::memcpy(x, xv.data(), xv.size() * 4);
    double ref[rows] = {};
    for (int r = 0; r < rows; ++r)
      for (int64_t i = 0; i < k; ++i) ref[r] += static_cast<double>(wref[static_cast<std::size_t>(i)]) * xv[static_cast<std::size_t>(r * xs + i)];

    for (std::size_t misalign = 0; misalign < 16; misalign += alignof(Block)) {
      std::vector<uint4> row_storage(row_bytes / 16 + 2);
      uint8_t* row = reinterpret_cast<uint8_t*>(row_storage.data()) + misalign;
      std::memcpy(row, q.data(), row_bytes);
      std::vector<uint4> tile_storage(T::kStride / 16);
      uint8_t* tile = reinterpret_cast<uint8_t*>(tile_storage.data());
      float acc[kLanes][kTileRows] = {};
      for (int64_t b0 = 0; b0 < blocks; b0 += T::kBlocks) {
        const int nb = static_cast<int>(std::min<int64_t>(T::kBlocks, blocks - b0));
        const uint8_t* src = row + static_cast<uint64_t>(b0) * sizeof(Block);
        const int bytes = nb * static_cast<int>(sizeof(Block));
        std::memset(tile, 0xCD, static_cast<std::size_t>(T::kStride));
        for (int lane = 0; lane < kLanes; ++lane) copy_lane<T::kLaneWords>(tile, src, bytes, lane);
        const int off = tile_offset(src);
        ASSERT_EQ(off, static_cast<int>(reinterpret_cast<uintptr_t>(src) % 16));
        ASSERT_LE(off + bytes, T::kStride);
        for (int i = 0; i < T::kStride; ++i) {
          const bool inside = i >= off && i < off + bytes;
          ASSERT_EQ(tile[i], inside ? src[i - off] : 0xCD)
              << name << " misalign " << misalign << " tile " << b0 << " byte " << i << (inside ? " (copied)" : " (outside)");
        }
        for (int lane = 0; lane < kLanes; ++lane)
          lane_tile_dot(reinterpret_cast<const Block*>(tile + off), nb, b0, lane, x, xs, rows, x_vec4, acc[lane]);
      }
      for (int r = 0; r < rows; ++r) {
        double sum = 0;
        for (int lane = 0; lane < kLanes; ++lane) sum += acc[lane][r];
        EXPECT_NEAR(sum, ref[r], 1e-5 * std::max(1.0, std::fabs(ref[r])))
            << name << " misalign " << misalign << " x_vec4 " << x_vec4 << " row " << r;
      }
    }
  }
}

TEST(cuda_mul_mat_decode, WarpEmulatedMatVecMatchesReference) {
  expect_warp_emulation_matches_reference<quant::BlockQ4_0>(TESSERA_DTYPE_Q4_0, "Q4_0");
  expect_warp_emulation_matches_reference<quant::BlockQ4_1>(TESSERA_DTYPE_Q4_1, "Q4_1");
  expect_warp_emulation_matches_reference<quant::BlockQ5_0>(TESSERA_DTYPE_Q5_0, "Q5_0");
  expect_warp_emulation_matches_reference<quant::BlockQ5_1>(TESSERA_DTYPE_Q5_1, "Q5_1");
  expect_warp_emulation_matches_reference<quant::BlockQ8_0>(TESSERA_DTYPE_Q8_0, "Q8_0");
  expect_warp_emulation_matches_reference<quant::BlockQ2_K>(TESSERA_DTYPE_Q2_K, "Q2_K");
  expect_warp_emulation_matches_reference<quant::BlockQ3_K>(TESSERA_DTYPE_Q3_K, "Q3_K");
  expect_warp_emulation_matches_reference<quant::BlockQ4_K>(TESSERA_DTYPE_Q4_K, "Q4_K");
  expect_warp_emulation_matches_reference<quant::BlockQ5_K>(TESSERA_DTYPE_Q5_K, "Q5_K");
  expect_warp_emulation_matches_reference<quant::BlockQ6_K>(TESSERA_DTYPE_Q6_K, "Q6_K");
  expect_warp_emulation_matches_reference<quant::BlockQ8_K>(TESSERA_DTYPE_Q8_K, "Q8_K");
  expect_warp_emulation_matches_reference<quant::BlockIQ4_NL>(TESSERA_DTYPE_IQ4_NL, "IQ4_NL");
  expect_warp_emulation_matches_reference<quant::BlockIQ4_XS>(TESSERA_DTYPE_IQ4_XS, "IQ4_XS");
}

// Every chunk of every block decoded by decode.cuh equals the SDK reference.
template <class Block>
void expect_decoder_matches_reference(int32_t dtype, const std::string& name) {
  using D = Decoder<Block>;
  ASSERT_EQ(D::kDtype, dtype);
  ASSERT_EQ(static_cast<uint32_t>(D::kElems), tessera_dtype_info(dtype).block_elements) << name;
  const int blocks = 24;
  std::vector<float> x = random_floats(static_cast<std::size_t>(blocks * D::kElems), 7u + static_cast<uint32_t>(dtype));
  // Spread magnitudes across blocks so scales, mins and signs vary.
  for (std::size_t i = 0; i < x.size(); ++i) x[i] *= 0.01f + static_cast<float>(i / D::kElems % 5);
  std::vector<Block> q(blocks);
  ASSERT_TRUE(quant::quantize_row(dtype, x.data(), q.data(), static_cast<int64_t>(x.size()))) << name;
  for (int b = 0; b < blocks; ++b) {
    float ref[256];
    quant::dequantize_block(q[static_cast<std::size_t>(b)], ref);
    for (int c = 0; c < D::kElems / 8; ++c) {
      float v[8];
      D::chunk(q[static_cast<std::size_t>(b)], c, v);
      for (int i = 0; i < 8; ++i) {
        const float want = ref[8 * c + i];
        ASSERT_NEAR(v[i], want, 1e-6f * std::max(1.0f, std::fabs(want)))
            << name << " block " << b << " chunk " << c << " value " << i;
      }
    }
  }
}

TEST(cuda_mul_mat_decode, ChunksMatchTheReferenceDequantizer) {
  expect_decoder_matches_reference<quant::BlockQ4_0>(TESSERA_DTYPE_Q4_0, "Q4_0");
  expect_decoder_matches_reference<quant::BlockQ4_1>(TESSERA_DTYPE_Q4_1, "Q4_1");
  expect_decoder_matches_reference<quant::BlockQ5_0>(TESSERA_DTYPE_Q5_0, "Q5_0");
  expect_decoder_matches_reference<quant::BlockQ5_1>(TESSERA_DTYPE_Q5_1, "Q5_1");
  expect_decoder_matches_reference<quant::BlockQ8_0>(TESSERA_DTYPE_Q8_0, "Q8_0");
  expect_decoder_matches_reference<quant::BlockQ2_K>(TESSERA_DTYPE_Q2_K, "Q2_K");
  expect_decoder_matches_reference<quant::BlockQ3_K>(TESSERA_DTYPE_Q3_K, "Q3_K");
  expect_decoder_matches_reference<quant::BlockQ4_K>(TESSERA_DTYPE_Q4_K, "Q4_K");
  expect_decoder_matches_reference<quant::BlockQ5_K>(TESSERA_DTYPE_Q5_K, "Q5_K");
  expect_decoder_matches_reference<quant::BlockQ6_K>(TESSERA_DTYPE_Q6_K, "Q6_K");
  expect_decoder_matches_reference<quant::BlockQ8_K>(TESSERA_DTYPE_Q8_K, "Q8_K");
  expect_decoder_matches_reference<quant::BlockIQ4_NL>(TESSERA_DTYPE_IQ4_NL, "IQ4_NL");
  expect_decoder_matches_reference<quant::BlockIQ4_XS>(TESSERA_DTYPE_IQ4_XS, "IQ4_XS");
}

TEST(cuda_mul_mat_decode, Iq4CodeBookLookup) {
  for (uint32_t c = 0; c < 16; ++c) EXPECT_EQ(iq4_value(c), static_cast<float>(quant::kIq4nlValues[c])) << c;
}

// with_block_type names the decoder of each block dtype and nothing else.
TEST(cuda_mul_mat_decode, BlockTypeDispatchCoversTheBlockQuants) {
  for (int32_t d = -1; d < 1010; ++d) {
    int32_t seen = -2;
    const bool known = with_block_type(d, [&](auto block) { seen = Decoder<decltype(block)>::kDtype; });
    EXPECT_EQ(known, is_block_quant(d)) << d;
    if (known) {
      EXPECT_EQ(seen, d);
    }
  }
}

template <int BITS>
void expect_unit_codes_match_reference() {
  const uint64_t n_cols = 3, k = 96;  // three units
  std::mt19937 rng(BITS);
  std::vector<uint32_t> qweight(k * BITS / 32 * n_cols);
  for (auto& w : qweight) w = static_cast<uint32_t>(rng());
  for (uint64_t n = 0; n < n_cols; ++n)
    for (int64_t unit = 0; unit < static_cast<int64_t>(k / 32); ++unit) {
      uint32_t words[BITS];
      for (int i = 0; i < BITS; ++i) words[i] = qweight[gptq_unit_word<BITS>(unit, i, n_cols, n)];
      for (int j = 0; j < 32; ++j)
        ASSERT_EQ(gptq_unit_code<BITS>(words, j),
                  quant::gptq_code(qweight.data(), n_cols, BITS, static_cast<uint64_t>(unit * 32 + j), n))
            << BITS << " bits, column " << n << ", unit " << unit << ", row " << j;
    }
}

TEST(cuda_mul_mat_gptq, UnitCodesMatchTheReferenceBitStream) {
  expect_unit_codes_match_reference<3>();
  expect_unit_codes_match_reference<4>();
  expect_unit_codes_match_reference<8>();
}

}  // namespace
}  // namespace tessera::cuda::mm
