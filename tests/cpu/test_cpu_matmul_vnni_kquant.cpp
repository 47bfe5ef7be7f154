// `kernels: vnni`: Q2_K .. Q6_K and IQ4_XS mat-vec (N <= 4) on activations
// quantized to Q8_K blocks, as llama.cpp computes these types. Skipped, with
// the reason, on CPUs without AVX512_VNNI.
//
// Two references:
// (a) tight: the same math in double. The weights come from the SDK
//     dequantizer, the activations from the SDK's Q8_K quantizer and
//     dequantizer (llama.cpp's quantize_row_q8_K: one float scale per 256,
//     round half to even), both independent of the kernel. The kernel sums
//     exact integer dots per block times float scales, so its error is a few
//     float roundings of the sum of |terms| (plus the SDK dequantizer's
//     float rounding of d * scale * q - dmin * min): we allow
//     |vnni - ref| <= 1e-5 * sum_i |w_i * xq_i|.
// (b) loose: the scalar reference on the unquantized activations. One scale
//     per 256 values moves each value by at most amax / 254, about 0.45% RMS
//     of values uniform in [-1, 1]; over a case's whole output we allow
//     ||vnni - scalar|| < 2e-2 * sqrt(sum_outputs sum_i (w_i x_i)^2).
#include "matmul_simd_support.hpp"
#include "tessera/quant/dequantize.hpp"

using namespace tessera::cpu_test;

namespace {

// The SDK's Q8_K round trip of the activations, per column of k values.
std::vector<double> q8_k_activations(const std::vector<float>& x, int64_t k) {
  std::vector<double> out(x.size());
  std::vector<uint8_t> blocks(row_bytes(TESSERA_DTYPE_Q8_K, k));
  std::vector<float> back(static_cast<size_t>(k));
  for (size_t col = 0; col < x.size() / static_cast<size_t>(k); ++col) {
    EXPECT_TRUE(tessera::quant::quantize_row(TESSERA_DTYPE_Q8_K, x.data() + col * k, blocks.data(), k));
    EXPECT_TRUE(tessera::quant::dequantize_row(TESSERA_DTYPE_Q8_K, blocks.data(), back.data(), k));
    for (int64_t i = 0; i < k; ++i) out[col * k + i] = back[static_cast<size_t>(i)];
  }
  return out;
}

// Weights [k, m], activations [k, n, c2] -> dst [m, n, c2]. `x` replaces
// the random activations (crafted ones skip the loose check (b)).
void check(const MatMulCase& c, int threads, uint32_t seed, std::vector<float> x = {}) {
  const bool loose = x.empty();
  SCOPED_TRACE(dtype_name(c.dtype) + " K=" + std::to_string(c.k) + " M=" + std::to_string(c.m) +
               " N=" + std::to_string(c.n) + " c2=" + std::to_string(c.c2) + " threads=" + std::to_string(threads));
  const auto w = random_weights(c.dtype, c.k, c.m, seed);
  if (x.empty()) x = random_floats(static_cast<size_t>(c.k * c.n * c.c2), seed + 1);
  std::vector<float> wf(static_cast<size_t>(c.k * c.m));
  for (int64_t m = 0; m < c.m; ++m)
    ASSERT_TRUE(tessera::quant::dequantize_row(c.dtype, w.data() + row_bytes(c.dtype, c.k) * static_cast<uint64_t>(m),
                                               wf.data() + m * c.k, c.k));
  const std::vector<double> xq = q8_k_activations(x, c.k);

  const auto got = run_mul_mat(yaml_for("vnni", threads), c, w, x);
  const auto scalar = run_mul_mat(yaml_for("scalar", threads), c, w, x);
  ASSERT_EQ(got.size(), static_cast<size_t>(c.m * c.n * c.c2));
  ASSERT_EQ(scalar.size(), got.size());

  double err2 = 0, terms2 = 0;
  for (int64_t col = 0; col < c.n * c.c2; ++col)
    for (int64_t m = 0; m < c.m; ++m) {
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < c.k; ++i) {
        const double wi = wf[static_cast<size_t>(m * c.k + i)];
        const double t = wi * xq[static_cast<size_t>(col * c.k + i)];
        const double u = wi * x[static_cast<size_t>(col * c.k + i)];
        ref += t;
        mag += std::fabs(t);
        terms2 += u * u;
      }
      const size_t o = static_cast<size_t>(col * c.m + m);
      ASSERT_LE(std::fabs(got[o] - ref), 1e-5 * mag + 1e-30)
          << "column " << col << " row " << m << ": vnni " << got[o] << " vs Q8_K reference " << ref;
      err2 += (static_cast<double>(got[o]) - scalar[o]) * (static_cast<double>(got[o]) - scalar[o]);
    }
  if (loose) {
    EXPECT_LT(std::sqrt(err2), 2e-2 * std::sqrt(terms2)) << "L2 error vs the unquantized scalar path";
  }
}

class cpu_matmul_vnni_kquant : public ::testing::TestWithParam<int32_t> {};

TEST_P(cpu_matmul_vnni_kquant, MatchesQ8KReferenceAndScalar) {
  SKIP_WITHOUT_KERNELS("vnni");
  // M = 300 at N = 1: 75 tasks, split into 4 weight streams per thread
  for (int64_t k : {256, 512, 4096 + 256})
    for (int64_t m : {1, 7, 300})
      for (int64_t n = 1; n <= 4; ++n)
        for (int threads : {1, 2}) {
          if (k > 512 && m == 300 && (threads == 1 || n != 1)) continue;  // keep the run short
          check({GetParam(), k, m, n}, threads, static_cast<uint32_t>(k * 131 + m * 7 + n + 1000 * threads));
        }
}

// Activation batches: every batch's columns quantized and read separately.
TEST_P(cpu_matmul_vnni_kquant, MatchesQ8KReferenceWithBatches) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {1, 3}) check({GetParam(), 512, 13, n, 1, 3}, 2, static_cast<uint32_t>(n + 99));
}

// Activations whose x * 127 / amax lands exactly on .5 (amax 127 makes the
// scale 1) must round half to even, as llama.cpp's nearest_int does; an
// all-zero block gets scale 0 (no division by zero).
TEST_P(cpu_matmul_vnni_kquant, ActivationTiesRoundToEvenAndZeroBlocksAreZero) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {1, 2}) {
    std::vector<float> x(static_cast<size_t>(512 * n));
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t at = i % 512;
      if (at >= 256 && n == 2 && i >= 512) continue;  // column 1's second block: all zero
      x[i] = at % 256 == 0 ? 127.0f : static_cast<float>(static_cast<int>(at % 64) - 32) + 0.5f;
    }
    check({GetParam(), 512, 9, n}, 1, static_cast<uint32_t>(n + 500), x);
  }
}

// The result does not depend on the thread count; N = 1 reads 4 weight
// streams per thread, so 1 and 2 threads group the rows differently.
TEST_P(cpu_matmul_vnni_kquant, IsBitIdenticalAcrossThreadCounts) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {1, 2}) {
    const MatMulCase c{GetParam(), 1024, 300, n};
    const auto w = random_weights(c.dtype, c.k, c.m, 5);
    const auto x = random_floats(static_cast<size_t>(c.k * c.n), 6);
    const auto one = run_mul_mat(yaml_for("vnni", 1), c, w, x), two = run_mul_mat(yaml_for("vnni", 2), c, w, x);
    ASSERT_EQ(one.size(), two.size());
    EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0) << "N=" << n;
  }
}

// N > 4 (prefill): the int8 panels of 16 columns, with padding columns (5,
// 17, 40), padding rows (M = 7, 13) and several blocks, on 1 and 2 threads.
TEST_P(cpu_matmul_vnni_kquant, PrefillMatchesQ8KReferenceAndScalar) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (int64_t n : {5, 16, 17, 40})
    for (int64_t m : {7, 13, 64})
      for (int threads : {1, 2})
        check({GetParam(), n == 40 ? 1024 : 512, m, n}, threads, static_cast<uint32_t>(n * 17 + m + 100 * threads));
}

TEST_P(cpu_matmul_vnni_kquant, PrefillWithBatchesAndTies) {
  SKIP_WITHOUT_KERNELS("vnni");
  check({GetParam(), 512, 11, 6, 1, 3}, 2, 77);
  std::vector<float> x(static_cast<size_t>(512 * 18));
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t at = i % 512;
    if (at >= 256 && i / 512 == 3) continue;  // column 3's second block: all zero
    x[i] = at % 256 == 0 ? 127.0f : static_cast<float>(static_cast<int>(at % 64) - 32) + 0.5f;
  }
  check({GetParam(), 512, 9, 18}, 2, 78, x);
}

// Prefill and mat-vec compute the same exact integers per block; only the
// float sums are grouped differently. Column by column, a prefill equals the
// mat-vec of that column within float rounding.
TEST_P(cpu_matmul_vnni_kquant, PrefillAgreesWithMatVecPerColumn) {
  SKIP_WITHOUT_KERNELS("vnni");
  const MatMulCase c{GetParam(), 2048, 24, 20};
  const auto w = random_weights(c.dtype, c.k, c.m, 9);
  const auto x = random_floats(static_cast<size_t>(c.k * c.n), 10);
  const auto all = run_mul_mat(yaml_for("vnni", 2), c, w, x);
  ASSERT_EQ(all.size(), static_cast<size_t>(c.m * c.n));
  for (int64_t col = 0; col < c.n; ++col) {
    const std::vector<float> one(x.begin() + col * c.k, x.begin() + (col + 1) * c.k);
    const auto single = run_mul_mat(yaml_for("vnni", 2), {c.dtype, c.k, c.m, 1}, w, one);
    for (int64_t m = 0; m < c.m; ++m) {
      const float a = all[static_cast<size_t>(col * c.m + m)], b = single[static_cast<size_t>(m)];
      ASSERT_NEAR(a, b, 1e-5 * (std::fabs(b) + 1.0)) << "column " << col << " row " << m;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Int8Dot, cpu_matmul_vnni_kquant,
                         ::testing::Values(TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K, TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K,
                                           TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_IQ4_XS),
                         [](const ::testing::TestParamInfo<int32_t>& p) { return dtype_name(p.param); });

}  // namespace
