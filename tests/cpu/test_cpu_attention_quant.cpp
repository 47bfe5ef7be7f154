// ATTENTION over F32, F16 and Q8_0 caches, COPY into a Q8_0 cache, and MUL_MAT / GET_ROWS on block-quantized
// weights, against double-precision loops written here. Quantized weights
// are made with the SDK quantizer; the reference decodes them with the SDK
// dequantizer, which tests/quant checks against the gguf Python package.
#include "matmul_simd_support.hpp"
#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/quantize.hpp"

using namespace tessera::cpu_test;

namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

}  // namespace

class cpu_attention : public ::testing::TestWithParam<int32_t> {};

TEST_P(cpu_attention, CausalGroupedQueryAttentionMatchesTheDefinition) {
  const int32_t cache_dtype = GetParam();
  Backend b(3);
  // A Q8_0 cache needs whole 32-value blocks per head.
  const int64_t d = cache_dtype == TESSERA_DTYPE_Q8_0 ? 32 : 8;
  const int64_t heads = 4, kv_heads = 2, tokens = 3, ctx = 10, first = 4, valid = first + tokens;
  const auto q = random_values(static_cast<size_t>(d * heads * tokens), 1);
  auto k = random_values(static_cast<size_t>(d * kv_heads * ctx), 2);
  auto v = random_values(static_cast<size_t>(d * kv_heads * ctx), 3);
  // Positions past `valid` hold garbage that must never be read.
  for (int64_t p = valid; p < ctx; ++p)
    for (int64_t i = 0; i < d * kv_heads; ++i) k[static_cast<size_t>(p * d * kv_heads + i)] = 1e30f;
  auto stored = [&](const std::vector<float>& x) {
    std::vector<uint16_t> halves(x.size());
    for (size_t i = 0; i < x.size(); ++i) halves[i] = tessera::quant::f32_to_f16(std::min(x[i], 60000.0f));
    return halves;
  };
  tessera_tensor tq = b.tensor(TESSERA_DTYPE_F32, {d, heads, tokens}, q, "q");
  // Q8_0: every row of d values quantized by the SDK quantizer (checked
  // against gguf-py in tests/quant); the reference then reads it back with
  // the SDK dequantizer.
  auto q8 = [&](const std::vector<float>& x) {
    std::vector<uint8_t> bytes(x.size() / 32 * 34);
    for (size_t r = 0; r < x.size() / static_cast<size_t>(d); ++r)
      tessera::quant::quantize_row(TESSERA_DTYPE_Q8_0, x.data() + r * static_cast<size_t>(d),
                                   bytes.data() + r * static_cast<size_t>(d) / 32 * 34, d);
    return bytes;
  };
  auto cache_tensor = [&](const std::vector<float>& x, const char* name) {
    if (cache_dtype == TESSERA_DTYPE_F16) return b.tensor(TESSERA_DTYPE_F16, {d, kv_heads, ctx}, stored(x), name);
    if (cache_dtype == TESSERA_DTYPE_F32) return b.tensor(TESSERA_DTYPE_F32, {d, kv_heads, ctx}, x, name);
    tessera_tensor t = block_tensor(b, TESSERA_DTYPE_Q8_0, d, kv_heads * ctx, q8(x));
    t.n_dims = 3;
    t.ne[1] = kv_heads;
    t.ne[2] = ctx;
    t.nb[2] = t.nb[1] * static_cast<uint64_t>(kv_heads);
    t.nb[3] = t.nb[2] * static_cast<uint64_t>(ctx);
    t.name = name;
    return t;
  };
  tessera_tensor tk = cache_tensor(k, "k");
  tessera_tensor tv = cache_tensor(v, "v");
  tessera_tensor out = b.tensor(TESSERA_DTYPE_F32, {d, heads, tokens}, nullptr, "out");
  tessera_node node = attention_node(&out, &tq, &tk, &tv, first, valid, 1.0f / std::sqrt(static_cast<float>(d)));
  const Status s = b.execute({&node});
  ASSERT_EQ(s.code, TESSERA_OK) << s.message;
  const auto got = b.read<float>(out);
  // What the cache holds, as the op sees it (F16 rounding included).
  auto cached = [&](const std::vector<float>& x, size_t i) {
    if (cache_dtype == TESSERA_DTYPE_Q8_0) {
      const auto bytes = q8(std::vector<float>(x.begin() + static_cast<std::ptrdiff_t>(i / 32 * 32),
                                               x.begin() + static_cast<std::ptrdiff_t>(i / 32 * 32 + 32)));
      float block[32];
      tessera::quant::dequantize_row(TESSERA_DTYPE_Q8_0, bytes.data(), block, 32);
      return block[i % 32];
    }
    return cache_dtype == TESSERA_DTYPE_F16 ? tessera::quant::f16_to_f32(tessera::quant::f32_to_f16(x[i])) : x[i];
  };
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t kvh = h / (heads / kv_heads);
      std::vector<double> score;
      for (int64_t p = 0; p <= first + t; ++p) {
        double dot = 0;
        for (int64_t i = 0; i < d; ++i)
          dot += q[static_cast<size_t>((t * heads + h) * d + i)] * cached(k, static_cast<size_t>((p * kv_heads + kvh) * d + i));
        score.push_back(dot / std::sqrt(static_cast<double>(d)));
      }
      const double max = *std::max_element(score.begin(), score.end());
      double total = 0;
      for (double& x : score) total += (x = std::exp(x - max));
      for (int64_t i = 0; i < d; ++i) {
        double expected = 0;
        for (size_t p = 0; p < score.size(); ++p)
          expected += score[p] / total * cached(v, (p * static_cast<size_t>(kv_heads) + static_cast<size_t>(kvh)) * static_cast<size_t>(d) + static_cast<size_t>(i));
        EXPECT_NEAR(got[static_cast<size_t>((t * heads + h) * d + i)], expected, 1e-5) << "t " << t << " h " << h;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(caches, cpu_attention,
                         ::testing::Values(TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0));

// COPY into a Q8_0 cache row by row: checked against the format's definition
// (d = max|x| / 127 per 32 values, q = round(x / d)), not against the SDK.
TEST(cpu_copy, F32RowsIntoAQ8_0CacheFollowTheFormat) {
  Backend b(2);
  const int64_t k = 64, rows = 5;
  auto x = random_values(static_cast<size_t>(k * rows), 11);
  x[7] = 0.0f;
  for (int64_t i = 32; i < 64; ++i) x[static_cast<size_t>(i)] = 0.0f;  // an all-zero block
  tessera_tensor src = b.tensor(TESSERA_DTYPE_F32, {k, rows}, x, "k_new");
  tessera_tensor dst = block_tensor(b, TESSERA_DTYPE_Q8_0, k, rows, std::vector<uint8_t>(static_cast<size_t>(k * rows / 32 * 34)));
  tessera_node node{};
  node.struct_size = sizeof node;
  node.op = TESSERA_OP_COPY;
  node.dst = &dst;
  node.src[0] = &src;
  const Status s = b.execute({&node});
  ASSERT_EQ(s.code, TESSERA_OK) << s.message;
  const auto bytes = b.read<uint8_t>(dst);
  for (int64_t blk = 0; blk < k * rows / 32; ++blk) {
    const uint8_t* p = bytes.data() + blk * 34;
    uint16_t half_d;
    std::memcpy(&half_d, p, 2);
    const float d = tessera::quant::f16_to_f32(half_d);
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[static_cast<size_t>(blk * 32 + i)]));
    EXPECT_NEAR(d, amax / 127.0f, amax / 127.0f * 1e-3f + 1e-7f) << "block " << blk;
    for (int i = 0; i < 32; ++i) {
      const float want = amax == 0.0f ? 0.0f : std::round(x[static_cast<size_t>(blk * 32 + i)] / (amax / 127.0f));
      EXPECT_NEAR(static_cast<float>(static_cast<int8_t>(p[2 + i])), want, 1.0f) << "block " << blk << " value " << i;
      // Half a step, plus what storing d as f16 (relative error 2^-11) moves 127 steps.
      EXPECT_NEAR(d * static_cast<int8_t>(p[2 + i]), x[static_cast<size_t>(blk * 32 + i)], d * 0.5f + amax * 5e-4f);
    }
  }
}

TEST(cpu_copy, Q8_0NeedsTheSourceShape) {
  Backend b(1);
  tessera_tensor src = b.tensor(TESSERA_DTYPE_F32, {32, 2}, nullptr, "k_new");
  tessera_tensor dst = block_tensor(b, TESSERA_DTYPE_Q8_0, 64, 1, std::vector<uint8_t>(68));
  tessera_node node{};
  node.struct_size = sizeof node;
  node.op = TESSERA_OP_COPY;
  node.dst = &dst;
  node.src[0] = &src;
  const Status s = b.execute({&node});
  EXPECT_EQ(s.code, TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("expected the shape of src0"), std::string::npos) << s.message;
}

TEST(cpu_attention_errors, PositionsOutsideTheCacheAreRejected) {
  Backend b(1);
  tessera_tensor q = b.tensor(TESSERA_DTYPE_F32, {4, 2, 2}, nullptr, "q");
  tessera_tensor k = b.tensor(TESSERA_DTYPE_F32, {4, 1, 4}, nullptr, "k");
  tessera_tensor v = b.tensor(TESSERA_DTYPE_F32, {4, 1, 4}, nullptr, "v");
  tessera_tensor out = b.tensor(TESSERA_DTYPE_F32, {4, 2, 2}, nullptr, "out");
  tessera_node node{};
  node.struct_size = sizeof node;
  node.op = TESSERA_OP_ATTENTION;
  node.dst = &out;
  node.src[0] = &q;
  node.src[1] = &k;
  node.src[2] = &v;
  node.i_params[0] = 3;  // 3 + 2 tokens > 4 cache positions
  node.i_params[1] = 5;
  const Status s = b.execute({&node});
  EXPECT_EQ(s.code, TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("cache length 4"), std::string::npos) << s.message;
}

class cpu_quantized : public ::testing::TestWithParam<int32_t> {};

TEST_P(cpu_quantized, MulMatAndGetRowsDecodeEveryBlock) {
  const int32_t dtype = GetParam();
  // Float activations (kernels: avx512, or the scalar path without
  // AVX-512), so the float reference below holds; the int8 kernels that
  // `auto` picks on VNNI CPUs are tested in test_cpu_matmul_vnni*.cpp
  // against their own reference.
  Backend b(yaml_for(kernels_unavailable("avx512").empty() ? "avx512" : "scalar", 2));
  const int64_t k = 512, m = 6, n = 3;
  const auto w = random_values(static_cast<size_t>(k * m), 11);
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  std::vector<uint8_t> bytes(static_cast<size_t>(k / t.block_elements * t.block_bytes * m));
  ASSERT_TRUE(tessera::quant::quantize_row(dtype, w.data(), bytes.data(), k * m));
  std::vector<float> decoded(w.size());
  tessera::quant::dequantize_row(dtype, bytes.data(), decoded.data(), k * m);

  const auto x = random_values(static_cast<size_t>(k * n), 12);
  tessera_tensor tw = block_tensor(b, dtype, k, m, bytes);
  tessera_tensor tx = b.tensor(TESSERA_DTYPE_F32, {k, n}, x, "x");
  tessera_tensor out = b.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "out");
  tessera_node mm{};
  mm.struct_size = sizeof mm;
  mm.op = TESSERA_OP_MUL_MAT;
  mm.dst = &out;
  mm.src[0] = &tw;
  mm.src[1] = &tx;
  Status s = b.execute({&mm});
  ASSERT_EQ(s.code, TESSERA_OK) << s.message;
  const auto got = b.read<float>(out);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      double expected = 0;
      for (int64_t c = 0; c < k; ++c) expected += static_cast<double>(decoded[static_cast<size_t>(i * k + c)]) * x[static_cast<size_t>(j * k + c)];
      EXPECT_NEAR(got[static_cast<size_t>(j * m + i)], expected, 1e-4 * (1 + std::fabs(expected))) << i << "," << j;
    }

  const std::vector<int32_t> ids{5, 0, 2};
  tessera_tensor tids = b.tensor(TESSERA_DTYPE_I32, {3}, ids, "ids");
  tessera_tensor rows = b.tensor(TESSERA_DTYPE_F32, {k, 3}, nullptr, "rows");
  tessera_node gr{};
  gr.struct_size = sizeof gr;
  gr.op = TESSERA_OP_GET_ROWS;
  gr.dst = &rows;
  gr.src[0] = &tw;
  gr.src[1] = &tids;
  s = b.execute({&gr});
  ASSERT_EQ(s.code, TESSERA_OK) << s.message;
  const auto got_rows = b.read<float>(rows);
  for (size_t r = 0; r < ids.size(); ++r)
    for (int64_t c = 0; c < k; ++c)
      ASSERT_EQ(got_rows[r * static_cast<size_t>(k) + static_cast<size_t>(c)],
                decoded[static_cast<size_t>(ids[r]) * static_cast<size_t>(k) + static_cast<size_t>(c)]);
}

INSTANTIATE_TEST_SUITE_P(types, cpu_quantized,
                         ::testing::Values(TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1, TESSERA_DTYPE_Q5_0,
                                           TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K,
                                           TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K,
                                           TESSERA_DTYPE_IQ4_NL, TESSERA_DTYPE_IQ4_XS));
