// `kernels: vnni`: mat-vec (N <= 4) and int8 panels (N > 4) on int8-quantized
// activations for the 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// IQ4_NL). Skipped, with the reason, on CPUs without AVX512_VNNI.
//
// Two references:
// (a) tight: the same math in double. The weights come from the SDK
//     dequantizer (d_w times a small integer, or a code book value, plus m_w
//     for Q4_1 / Q5_1), the activations from the
//     quantizer below, written from the spec (blocks of 32, amax = max |x|,
//     d = amax / 127 in float, id = d != 0 ? 1 / d : 0, q = round half away
//     from zero of x * id). The kernel sums exact block integer dots times the
//     float d_w * d_x in float (per-lane chains of K / 256 blocks), so its
//     error is a few float roundings of the sum of |terms|: we allow
//     |vnni - ref| <= 1e-5 * sum_i |w_i * xq_i|, a bound cancellation cannot
//     shrink. (Q4_1 / Q5_1 sum d_w * code * x and m_w * x separately, each
//     up to a few times sum |w_i * xq_i|: still ~50x below the bound.)
// (b) loose: the scalar reference on the unquantized activations. Rounding
//     x to 8 bits moves each value by at most amax / 254, random sign, about
//     0.4% RMS of values uniform in [-1, 1], so each output moves by ~0.4% of
//     sqrt(sum_i (w_i x_i)^2). Over a case's whole output we allow
//     ||vnni - scalar|| < 2e-2 * sqrt(sum_outputs sum_i (w_i x_i)^2) (5x the
//     expected value; measured with respect to the terms, not ||scalar||,
//     which cancellation can make arbitrarily small for M = 1).
#include "matmul_simd_support.hpp"
#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/half.hpp"

using namespace tessera::cpu_test;

namespace {

// The spec's activation quantizer, returning the dequantized values d * q.
std::vector<double> quantized_activations(const std::vector<float>& x) {
  std::vector<double> out(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (size_t i = b; i < b + 32; ++i) {
      const float q = std::round(x[i] * id);
      EXPECT_LE(std::fabs(q), 127.0f);
      out[i] = static_cast<double>(tessera::quant::f16_to_f32(tessera::quant::f32_to_f16(d))) * static_cast<double>(q);
    }
  }
  return out;
}

// Weights [k, m, b2], activations [k, n, c2] -> dst [m, n, c2]; activation
// batch j reads weight batch j / (c2 / b2), as ggml broadcasts.
// `x` replaces the random activations; the loose check (b) assumes random
// rounding errors, so crafted activations skip it. `w` replaces the
// quantized random weights.
void check(const MatMulCase& c, int threads, uint32_t seed, std::vector<float> x = {}, std::vector<uint8_t> w = {}) {
  const bool loose = x.empty();
  SCOPED_TRACE(dtype_name(c.dtype) + " K=" + std::to_string(c.k) + " M=" + std::to_string(c.m) +
               " N=" + std::to_string(c.n) + " b2=" + std::to_string(c.b2) + " c2=" + std::to_string(c.c2) +
               " threads=" + std::to_string(threads));
  const int64_t weight_rows = c.m * c.b2;
  if (w.empty()) w = random_weights(c.dtype, c.k, weight_rows, seed);
  if (x.empty()) x = random_floats(static_cast<size_t>(c.k * c.n * c.c2), seed + 1);
  std::vector<float> wf(static_cast<size_t>(c.k * weight_rows));
  for (int64_t m = 0; m < weight_rows; ++m)
    ASSERT_TRUE(tessera::quant::dequantize_row(c.dtype, w.data() + row_bytes(c.dtype, c.k) * static_cast<uint64_t>(m),
                                               wf.data() + m * c.k, c.k));
  const std::vector<double> xq = quantized_activations(x);

  const auto got = run_mul_mat(yaml_for("vnni", threads), c, w, x);
  const auto scalar = run_mul_mat(yaml_for("scalar", threads), c, w, x);
  ASSERT_EQ(got.size(), static_cast<size_t>(c.m * c.n * c.c2));
  ASSERT_EQ(scalar.size(), got.size());

  double err2 = 0, terms2 = 0;
  for (int64_t col = 0; col < c.n * c.c2; ++col)
    for (int64_t m = 0; m < c.m; ++m) {
      const int64_t weight_batch = col / c.n / (c.c2 / c.b2);
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < c.k; ++i) {
        const double wi = wf[static_cast<size_t>((weight_batch * c.m + m) * c.k + i)];
        const double t = wi * xq[static_cast<size_t>(col * c.k + i)];
        const double u = wi * x[static_cast<size_t>(col * c.k + i)];
        ref += t;
        mag += std::fabs(t);
        terms2 += u * u;
      }
      const size_t o = static_cast<size_t>(col * c.m + m);
      ASSERT_LE(std::fabs(got[o] - ref), 1e-5 * mag + 1e-30)
          << "column " << col << " row " << m << ": vnni " << got[o] << " vs int8 reference " << ref;
      err2 += (static_cast<double>(got[o]) - scalar[o]) * (static_cast<double>(got[o]) - scalar[o]);
    }
  if (loose) {
    EXPECT_LT(std::sqrt(err2), 2e-2 * std::sqrt(terms2)) << "L2 error vs the unquantized scalar path";
  }
}

// `kernels: vnni` on 1 and 2 threads gives bit-identical results.
void expect_same_on_1_and_2_threads(const MatMulCase& c, uint32_t seed) {
  const auto w = random_weights(c.dtype, c.k, c.m, seed);
  const auto x = random_floats(static_cast<size_t>(c.k * c.n), seed + 1);
  const auto one = run_mul_mat(yaml_for("vnni", 1), c, w, x), two = run_mul_mat(yaml_for("vnni", 2), c, w, x);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0) << "N=" << c.n;
}

class cpu_matmul_vnni : public ::testing::TestWithParam<int32_t> {};

TEST_P(cpu_matmul_vnni, MatchesInt8ReferenceAndScalar) {
  SKIP_WITHOUT_KERNELS("vnni");
  const int32_t dtype = GetParam();
  // K = 224: 7 single blocks; 4128: Q4_0's 16 groups of 8 blocks plus 1.
  for (int64_t k : {32, 224, 256, 4096 + 32})
    for (int64_t m : {1, 7, 300})
      for (int64_t n = 1; n <= 4; ++n)
        for (int threads : {1, 2}) {
          if (k > 256 && m == 300 && threads == 1 && n != 1) continue;  // keep the run short
          check({dtype, k, m, n}, threads, static_cast<uint32_t>(k * 131 + m * 7 + n + 1000 * threads));
        }
}

// Activation batches: every batch's columns quantized and read separately.
TEST_P(cpu_matmul_vnni, MatchesInt8ReferenceWithBatches) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {1, 3}) check({GetParam(), 256, 13, n, 1, 3}, 2, static_cast<uint32_t>(n + 99));
}

// The result does not depend on the thread count (each dst element is one
// task's fixed-order sum), for the mat-vec (N = 1, 2) and the prefill (N = 23).
TEST_P(cpu_matmul_vnni, IsBitIdenticalAcrossThreadCounts) {
  SKIP_WITHOUT_KERNELS("vnni");
  expect_same_on_1_and_2_threads({GetParam(), 1024, 67, 2}, 5);
  // N = 1: rows read as 4 streams per thread, so 1 and 2 threads group them differently
  expect_same_on_1_and_2_threads({GetParam(), 1024, 300, 1}, 6);
}

// N > 4 (prefill): int8 panels of 8 rows x 16 columns, against the same
// references; N around the 16-column groups (padding lanes) and row counts
// around the 8-row panels.
TEST_P(cpu_matmul_vnni, PrefillMatchesInt8ReferenceAndScalar) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t k : {32, 256, 4096 + 32})
    for (int64_t m : {1, 7, 9, 300})
      for (int64_t n : {5, 16, 17, 40})
        for (int threads : {1, 2}) {
          if (k > 256 && (m == 300 || threads == 1)) continue;  // keep the run short
          check({GetParam(), k, m, n}, threads, static_cast<uint32_t>(k * 17 + m * 5 + n + 1000 * threads));
        }
  check({GetParam(), 512, 300, 64}, 2, 77);
}

// Activations whose x / d land exactly on .5 (amax 127 makes d = 1): the
// quantizer must round half away from zero, as the spec's roundf does, in
// the mat-vec and the prefill paths.
TEST_P(cpu_matmul_vnni, ActivationTiesRoundAwayFromZero) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {1, 5}) {
    std::vector<float> x(static_cast<size_t>(64 * n));
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = i % 32 == 0 ? 127.0f : (static_cast<float>(i % 32) - 16.0f) + (i % 2 ? 0.5f : -0.5f);
    check({GetParam(), 64, 9, n}, 1, static_cast<uint32_t>(n + 500), x);
  }
}

// Weight blocks of random bytes, so every code of every position occurs
// (both ends of IQ4_NL's code book, every Q5 high-bit pattern, Q8_0's -128),
// with the scale (and Q4_1 / Q5_1's min) set to a random small f16 in
// front: mat-vec and prefill against the same references.
TEST_P(cpu_matmul_vnni, RandomCodeBytesMatch) {
  SKIP_WITHOUT_KERNELS("vnni");
  const int32_t dtype = GetParam();
  const uint64_t block_bytes = tessera_dtype_info(dtype).block_bytes;
  const bool has_min = dtype == TESSERA_DTYPE_Q4_1 || dtype == TESSERA_DTYPE_Q5_1;
  for (int64_t n : {1, 2, 5, 17}) {
    const MatMulCase c{dtype, 512, 21, n};
    std::mt19937 rng(static_cast<uint32_t>(n + 31));
    std::vector<uint8_t> w(row_bytes(dtype, c.k) * static_cast<uint64_t>(c.m));
    for (uint8_t& byte : w) byte = static_cast<uint8_t>(rng());
    std::uniform_real_distribution<float> scale(0.001f, 0.05f), min(-0.5f, 0.1f);
    const auto put_half = [&](uint64_t at, float v) {
      const uint16_t h = tessera::quant::f32_to_f16(v);
      std::memcpy(&w[at], &h, sizeof h);
    };
    for (uint64_t at = 0; at < w.size(); at += block_bytes) {
      put_half(at, scale(rng));
      if (has_min) put_half(at + 2, min(rng));
    }
    check(c, 2, static_cast<uint32_t>(n + 700), {}, w);
  }
}

TEST_P(cpu_matmul_vnni, PrefillMatchesInt8ReferenceWithBatches) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {5, 20}) check({GetParam(), 256, 13, n, 1, 3}, 2, static_cast<uint32_t>(n + 199));
}

// Several weight batches (one matrix per pair of activation batches, as
// grouped-query attention's products are laid out): each activation batch
// must read its own weights, in the mat-vec and the prefill paths.
TEST_P(cpu_matmul_vnni, MatchesInt8ReferenceWithWeightBatches) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {1, 3, 20}) check({GetParam(), 256, 13, n, 2, 4}, 2, static_cast<uint32_t>(n + 299));
}

TEST_P(cpu_matmul_vnni, PrefillIsBitIdenticalAcrossThreadCounts) {
  SKIP_WITHOUT_KERNELS("vnni");
  expect_same_on_1_and_2_threads({GetParam(), 1024, 67, 23}, 15);
}

// Types without int8 kernels (the float ones) are the avx512 kernels under
// `kernels: vnni` (the K-quant ones are in test_cpu_matmul_vnni_kquant.cpp).
TEST(cpu_matmul_vnni_other, OtherDtypesAreTheAvx512Path) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int32_t dtype : {TESSERA_DTYPE_F16, TESSERA_DTYPE_F32}) {
    const MatMulCase c{dtype, 512, 9, 1};
    const auto w = random_weights(dtype, c.k, c.m, 3);
    const auto x = random_floats(static_cast<size_t>(c.k), 4);
    const auto vnni = run_mul_mat(yaml_for("vnni", 1), c, w, x), avx = run_mul_mat(yaml_for("avx512", 1), c, w, x);
    EXPECT_EQ(std::memcmp(vnni.data(), avx.data(), vnni.size() * sizeof(float)), 0) << dtype_name(dtype);
  }
}

INSTANTIATE_TEST_SUITE_P(Int8Dot, cpu_matmul_vnni,
                         ::testing::Values(TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1, TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1,
                                           TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_IQ4_NL),
                         [](const ::testing::TestParamInfo<int32_t>& p) { return dtype_name(p.param); });

// Without VNNI the value is refused with a message naming the feature.
TEST(cpu_matmul_vnni_select, RefusedWithoutVnniOrAccepted) {
  Backend b(yaml_for("vnni", 1));
  if (b.create_status().code == TESSERA_OK) GTEST_SKIP() << "this CPU has AVX512_VNNI, so 'kernels: vnni' is accepted";
  EXPECT_EQ(b.create_status().code, TESSERA_ERR_UNSUPPORTED);
  EXPECT_NE(b.create_status().message.find("kernels: vnni"), std::string::npos) << b.create_status().message;
  EXPECT_NE(b.create_status().message.find("lacks"), std::string::npos) << b.create_status().message;
}

}  // namespace
