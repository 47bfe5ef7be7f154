// The AVX-512 mul_mat kernels against the scalar reference path, for every
// weight dtype, on random data: the same weights (SDK-quantized) and
// activations run on a backend with `kernels: avx512` and one with
// `kernels: scalar`. Skipped, with the reason, on CPUs without AVX-512.
//
// Tolerance: the fast kernels decode weights to the same float values as the
// reference (up to one rounding where they fuse scale and offset) and sum in
// float, 32 lanes, where the reference sums in double. The float summation
// error grows like eps_f32 * sqrt(K / 32) * |w| |x|, about 1e-6 of a typical
// output at K = 4096, so we allow 1e-5 of the RMS of the column's outputs
// (max |fast - scalar| <= 1e-5 * rms). BF16 weights on CPUs with AVX512_BF16
// use vdpbf16ps with activations split into three bf16 terms (24 bits kept),
// within the same bound.
#include "matmul_simd_support.hpp"

using namespace tessera::cpu_test;

namespace {

constexpr double kTolerance = 1e-5;

// Every column of `fast` within kTolerance * rms(column of `ref`).
void expect_close(const std::vector<float>& fast, const std::vector<float>& ref, const MatMulCase& c) {
  ASSERT_EQ(fast.size(), ref.size());
  const int64_t columns = c.n * c.c2;
  for (int64_t col = 0; col < columns; ++col) {
    double sq = 0, worst = 0;
    int64_t worst_m = 0;
    for (int64_t m = 0; m < c.m; ++m) sq += static_cast<double>(ref[static_cast<size_t>(col * c.m + m)]) * ref[static_cast<size_t>(col * c.m + m)];
    const double rms = std::sqrt(sq / static_cast<double>(c.m));
    for (int64_t m = 0; m < c.m; ++m) {
      const size_t i = static_cast<size_t>(col * c.m + m);
      const double e = std::fabs(static_cast<double>(fast[i]) - ref[i]);
      if (!(e <= worst)) {
        worst = e;
        worst_m = m;
      }
    }
    ASSERT_LE(worst, kTolerance * rms) << dtype_name(c.dtype) << " K=" << c.k << " N=" << c.n << " column " << col
                                       << " row " << worst_m << ": avx512 "
                                       << fast[static_cast<size_t>(col * c.m + worst_m)] << " vs scalar "
                                       << ref[static_cast<size_t>(col * c.m + worst_m)] << " (rms " << rms << ")";
  }
}

void compare(const MatMulCase& c, uint32_t seed) {
  const auto w = random_weights(c.dtype, c.k, c.m * c.b2, seed);
  const auto x = random_floats(static_cast<size_t>(c.k * c.n * c.c2), seed + 1);
  const auto fast = run_mul_mat(yaml_for("avx512", 2), c, w, x);
  const auto ref = run_mul_mat(yaml_for("scalar", 2), c, w, x);
  expect_close(fast, ref, c);
}

}  // namespace

class cpu_matmul_simd : public ::testing::TestWithParam<int32_t> {};

// M = 67: not a multiple of the 4-row task (or of the 2- and 4-row groups).
TEST_P(cpu_matmul_simd, MatchesScalarForEveryShape) {
  SKIP_WITHOUT_KERNELS("avx512");
  const int32_t dtype = GetParam();
  for (int64_t k : {256, 4096})
    for (int64_t n : {1, 3, 17, 64}) {
      SCOPED_TRACE("K=" + std::to_string(k) + " N=" + std::to_string(n));
      compare({dtype, k, 67, n}, static_cast<uint32_t>(1000 * dtype + k + n));
    }
}

// N = 2 and 4 take the other fused register blockings; batches with a
// shared weight batch (grouped-query attention) take per-task batch offsets.
TEST_P(cpu_matmul_simd, MatchesScalarWithBatchesAndOtherBlockings) {
  SKIP_WITHOUT_KERNELS("avx512");
  const int32_t dtype = GetParam();
  for (int64_t n : {2, 4, 5})
    compare({dtype, 512, 13, n, 2, 6}, static_cast<uint32_t>(77 * dtype + n));
}

// Same data, 1 and 3 threads: every dst element is summed by one task in a
// fixed order, so the results are bit-identical.
TEST_P(cpu_matmul_simd, IsBitIdenticalAcrossThreadCounts) {
  SKIP_WITHOUT_KERNELS("avx512");
  const int32_t dtype = GetParam();
  for (int64_t n : {1, 3, 17}) {
    const MatMulCase c{dtype, 512, 67, n};
    const auto w = random_weights(dtype, c.k, c.m, 5);
    const auto x = random_floats(static_cast<size_t>(c.k * c.n), 6);
    const auto one = run_mul_mat(yaml_for("avx512", 1), c, w, x);
    const auto three = run_mul_mat(yaml_for("avx512", 3), c, w, x);
    ASSERT_EQ(one.size(), three.size());
    EXPECT_EQ(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)), 0)
        << dtype_name(dtype) << " N=" << n << ": 1 and 3 threads differ";
  }
}

INSTANTIATE_TEST_SUITE_P(EveryWeightType, cpu_matmul_simd, ::testing::ValuesIn(weight_dtypes()),
                         [](const ::testing::TestParamInfo<int32_t>& p) { return dtype_name(p.param); });

// Float weights may have any row length: the last partial block of 32 (and
// of 16 in the prefill micro-kernel) is masked.
TEST(cpu_matmul_simd_tail, FloatWeightsWithRaggedRows) {
  SKIP_WITHOUT_KERNELS("avx512");
  for (int32_t dtype : {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_BF16})
    for (int64_t k : {1, 7, 37, 100})
      for (int64_t n : {1, 2, 6}) {
        SCOPED_TRACE(dtype_name(dtype) + " K=" + std::to_string(k) + " N=" + std::to_string(n));
        compare({dtype, k, 9, n}, static_cast<uint32_t>(k * 10 + n));
      }
}

TEST(cpu_matmul_simd_select, Avx512IsRefusedWithoutTheCpuFeatures) {
  const std::string why = kernels_unavailable("avx512");
  if (why.empty()) GTEST_SKIP() << "this CPU has AVX-512, so 'kernels: avx512' is accepted here";
  Backend b(yaml_for("avx512", 1));
  EXPECT_EQ(b.create_status().code, TESSERA_ERR_UNSUPPORTED);
  EXPECT_NE(b.create_status().message.find("kernels: avx512"), std::string::npos) << b.create_status().message;
  EXPECT_NE(b.create_status().message.find("lacks"), std::string::npos) << b.create_status().message;
}

TEST(cpu_matmul_simd_select, UnknownKernelsValueIsRejected) {
  Backend b(yaml_for("fastest", 1));
  EXPECT_EQ(b.create_status().code, TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(b.create_status().message.find("'kernels' is 'fastest'"), std::string::npos) << b.create_status().message;
  EXPECT_NE(b.create_status().message.find("auto, avx512, vnni or scalar"), std::string::npos) << b.create_status().message;
}

TEST(cpu_matmul_simd_select, AutoAndScalarAreAlwaysAccepted) {
  for (const char* k : {"auto", "scalar"}) {
    Backend b(yaml_for(k, 1));
    EXPECT_EQ(b.create_status().code, TESSERA_OK) << k << ": " << b.create_status().message;
  }
}

TEST(cpu_matmul_simd_select, KernelsIsADeclaredParameter) {
  const tessera::ParamSpec* kernels = cpu_plugin().find_param("kernels");
  ASSERT_NE(kernels, nullptr);
  EXPECT_EQ(kernels->type, TESSERA_PARAM_STRING);
  EXPECT_EQ(kernels->default_value, "auto");
  EXPECT_FALSE(kernels->required());
}
