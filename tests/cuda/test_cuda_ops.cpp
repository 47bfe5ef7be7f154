// Every op of the cuda plugin against an independent reference on fresh
// random inputs: the cpu plugin's scalar path (the project's reference
// semantics), or the SDK's reference (de)quantizers for get_rows and the
// Q8_0 copy. Tolerances are relative norm errors ||gpu - ref|| / ||ref||:
// 1e-6 where both compute the same float expression (element-wise ops,
// dequantization; only FMA contraction differs), 1e-5 for reductions
// (rms_norm, softmax: float tree sums against the cpu's double sums).
#include <cstring>

#include "cuda_test_support.hpp"
#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/quantize.hpp"

namespace tessera::cuda_test {
namespace {

void expect_close(const OpCase& c, double tolerance, const std::string& what) {
  const std::vector<float> gpu = c.run_floats("cuda", kCuda);
  const std::vector<float> ref = c.run_floats("cpu", kCpu);
  const double err = relative_error(gpu, ref);
  EXPECT_LE(err, tolerance) << what;
  std::printf("%s: relative error %.3g\n", what.c_str(), err);
}

TEST(cuda_ops, RmsNormMatchesCpu) {
  TESSERA_REQUIRE_CUDA();
  for (int64_t k : {1, 7, 256, 4096 + 3}) {
    OpCase c;
    c.op = TESSERA_OP_RMS_NORM;
    c.src = {input(TESSERA_DTYPE_F32, {k, 5}, random_floats(static_cast<std::size_t>(k * 5), 1, -3, 3))};
    c.dst_ne = {k, 5};
    c.f_params[0] = 1e-5f;
    expect_close(c, 1e-5, "rms_norm k=" + std::to_string(k));
  }
}

TEST(cuda_ops, MulAndAddBroadcastLikeCpu) {
  TESSERA_REQUIRE_CUDA();
  for (int32_t op : {TESSERA_OP_MUL, TESSERA_OP_ADD}) {
    // [K] weight over [K x N] rows, a full-size operand, and a [K/4, 1, 3] repeat.
    const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
        {{300, 9}, {300}}, {{64, 4, 3}, {64, 4, 3}}, {{64, 4, 3}, {16, 1, 3}}};
    for (const auto& [a, b] : shapes) {
      int64_t na = 1, nb = 1;
      for (int64_t v : a) na *= v;
      for (int64_t v : b) nb *= v;
      OpCase c;
      c.op = op;
      c.src = {input(TESSERA_DTYPE_F32, a, random_floats(static_cast<std::size_t>(na), 2)),
               input(TESSERA_DTYPE_F32, b, random_floats(static_cast<std::size_t>(nb), 3))};
      c.dst_ne = a;
      expect_close(c, 1e-6, std::string(tessera_op_name(op)) + " " + std::to_string(na) + "/" + std::to_string(nb));
    }
  }
}

TEST(cuda_ops, SiluSwigluScaleMatchCpu) {
  TESSERA_REQUIRE_CUDA();
  const int64_t k = 1000, n = 3;
  const auto x = random_floats(static_cast<std::size_t>(k * n), 4, -8, 8);
  const auto y = random_floats(static_cast<std::size_t>(k * n), 5, -2, 2);
  OpCase silu;
  silu.op = TESSERA_OP_SILU;
  silu.src = {input(TESSERA_DTYPE_F32, {k, n}, x)};
  silu.dst_ne = {k, n};
  expect_close(silu, 1e-6, "silu");
  OpCase swiglu = silu;
  swiglu.op = TESSERA_OP_SWIGLU;
  swiglu.src.push_back(input(TESSERA_DTYPE_F32, {k, n}, y));
  expect_close(swiglu, 1e-6, "swiglu");
  OpCase scale = silu;
  scale.op = TESSERA_OP_SCALE;
  scale.f_params[0] = -0.37f;
  expect_close(scale, 1e-7, "scale");
}

TEST(cuda_ops, RopeMatchesCpuAtLargePositions) {
  TESSERA_REQUIRE_CUDA();
  const int64_t head_dim = 64, heads = 4, tokens = 6;
  std::vector<int32_t> per_token = {0, 1, 17, 511, 4095, 30000};
  std::vector<int32_t> per_row(static_cast<std::size_t>(heads * tokens));
  for (std::size_t i = 0; i < per_row.size(); ++i) per_row[i] = static_cast<int32_t>(i * 977 % 8192);
  for (int32_t n_rot : {64, 32}) {
    for (const auto* pos : {&per_token, &per_row}) {
      OpCase c;
      c.op = TESSERA_OP_ROPE;
      c.src = {input(TESSERA_DTYPE_F32, {head_dim, heads, tokens}, random_floats(static_cast<std::size_t>(head_dim * heads * tokens), 6)),
               input(TESSERA_DTYPE_I32, {static_cast<int64_t>(pos->size())}, *pos)};
      c.dst_ne = {head_dim, heads, tokens};
      c.i_params[0] = n_rot;
      c.f_params[0] = 10000.0f;
      c.f_params[1] = 0.5f;
      // Both compute the angle in double; only the float rounding of the result may differ.
      expect_close(c, 1e-6, "rope n_rot=" + std::to_string(n_rot) + (pos == &per_row ? " per row" : " per token"));
    }
  }
}

TEST(cuda_ops, SoftmaxWithAndWithoutMaskMatchesCpu) {
  TESSERA_REQUIRE_CUDA();
  const int64_t k = 777, rows = 6;
  OpCase c;
  c.op = TESSERA_OP_SOFTMAX;
  c.src = {input(TESSERA_DTYPE_F32, {k, rows}, random_floats(static_cast<std::size_t>(k * rows), 7, -10, 10))};
  c.dst_ne = {k, rows};
  c.f_params[0] = 0.7f;
  expect_close(c, 1e-5, "softmax");
  // A causal-style mask with one fully masked row (which must give zeros).
  std::vector<float> mask(static_cast<std::size_t>(k * 3));
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t i = 0; i < k; ++i)
      mask[static_cast<std::size_t>(r * k + i)] = (r == 2 || i > r * 300 + 5) ? -INFINITY : 0.0f;
  c.src.push_back(input(TESSERA_DTYPE_F32, {k, 3}, mask));
  expect_close(c, 1e-5, "softmax masked");
  const std::vector<float> gpu = c.run_floats("cuda", kCuda);
  for (int64_t i = 0; i < k; ++i) EXPECT_EQ(gpu[static_cast<std::size_t>(2 * k + i)], 0.0f);
}

TEST(cuda_ops, CopyConvertsLikeCpu) {
  TESSERA_REQUIRE_CUDA();
  const auto x = random_floats(4 * 96, 8, -70000, 70000);  // includes values that overflow F16 to inf
  OpCase c;
  c.op = TESSERA_OP_COPY;
  c.src = {input(TESSERA_DTYPE_F32, {96, 4}, x)};
  c.dst_dtype = TESSERA_DTYPE_F16;
  c.dst_ne = {96, 4};
  EXPECT_EQ(c.run("cuda", kCuda), c.run("cpu", kCpu)) << "f32 -> f16 must round identically (to nearest even)";
  c.dst_ne = {48, 2, 4};  // a reshape: elements matched in logical order
  EXPECT_EQ(c.run("cuda", kCuda), c.run("cpu", kCpu)) << "f32 -> f16 reshaped";
  c.dst_dtype = TESSERA_DTYPE_F32;
  EXPECT_EQ(c.run("cuda", kCuda), c.run("cpu", kCpu)) << "f32 -> f32";
  // Not dense (a transposed view): the general path, one index per element.
  c.src0_view_ne = {4, 96};
  c.src0_view_nb = {96 * 4, 4};
  c.dst_ne = {4, 96};
  EXPECT_EQ(c.run("cuda", kCuda), c.run("cpu", kCpu)) << "f32 -> f32 transposed";
  c.dst_dtype = TESSERA_DTYPE_F16;
  EXPECT_EQ(c.run("cuda", kCuda), c.run("cpu", kCpu)) << "f32 -> f16 transposed";
  // Dense with a count that is not a multiple of 4: the F32 vector path's tail.
  c.src0_view_ne.clear();
  c.src0_view_nb.clear();
  c.src = {input(TESSERA_DTYPE_F32, {97, 3}, std::vector<float>(x.begin(), x.begin() + 97 * 3))};
  c.dst_ne = {97, 3};
  c.dst_dtype = TESSERA_DTYPE_F32;
  EXPECT_EQ(c.run("cuda", kCuda), c.run("cpu", kCpu)) << "f32 -> f32, 291 elements";
}

TEST(cuda_ops, CopyToQ8_0MatchesSdkQuantizer) {
  TESSERA_REQUIRE_CUDA();
  const int64_t k = 128, rows = 5;
  auto x = random_floats(static_cast<std::size_t>(k * rows), 9, -3, 3);
  for (int i = 0; i < 32; ++i) x[static_cast<std::size_t>(32 + i)] = 0.0f;  // an all-zero block (d = 0)
  OpCase c;
  c.op = TESSERA_OP_COPY;
  c.src = {input(TESSERA_DTYPE_F32, {k, rows}, x)};
  c.dst_dtype = TESSERA_DTYPE_Q8_0;
  c.dst_ne = {k, rows};
  std::vector<uint8_t> want(bytes_of(TESSERA_DTYPE_Q8_0, {k, rows}));
  ASSERT_TRUE(quant::quantize_row(TESSERA_DTYPE_Q8_0, x.data(), want.data(), k * rows));
  EXPECT_EQ(c.run("cuda", kCuda), want) << "the KV cache's Q8_0 blocks must be the SDK reference's, byte for byte";
}

class GetRows : public ::testing::TestWithParam<int32_t> {};

TEST_P(GetRows, DequantizesLikeTheSdkReference) {
  TESSERA_REQUIRE_CUDA();
  const int32_t dtype = GetParam();
  const int64_t k = 512, rows = 37;
  const auto values = random_floats(static_cast<std::size_t>(k * rows), 10 + static_cast<uint32_t>(dtype), -2, 2);
  std::vector<uint8_t> table(bytes_of(dtype, {k, rows}));
  ASSERT_TRUE(quant::quantize_row(dtype, values.data(), table.data(), k * rows));
  const std::vector<int32_t> ids = {36, 0, 5, 5, 17, 36, 1};
  OpCase c;
  c.op = TESSERA_OP_GET_ROWS;
  c.src = {Input{dtype, {k, rows}, table}, input(TESSERA_DTYPE_I32, {static_cast<int64_t>(ids.size())}, ids)};
  c.dst_ne = {k, static_cast<int64_t>(ids.size())};
  std::vector<float> want(static_cast<std::size_t>(k) * ids.size());
  const uint64_t row_bytes = bytes_of(dtype, {k});
  for (std::size_t i = 0; i < ids.size(); ++i)
    ASSERT_TRUE(quant::dequantize_row(dtype, table.data() + static_cast<uint64_t>(ids[i]) * row_bytes,
                                      want.data() + i * static_cast<std::size_t>(k), k));
  const double err = relative_error(c.run_floats("cuda", kCuda), want);
  EXPECT_LE(err, 1e-6) << tessera_dtype_info(dtype).name;
}

INSTANTIATE_TEST_SUITE_P(
    every_gguf_type, GetRows,
    ::testing::Values(TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1,
                      TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K,
                      TESSERA_DTYPE_Q3_K, TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K,
                      TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL, TESSERA_DTYPE_IQ4_XS),
    [](const ::testing::TestParamInfo<int32_t>& p) { return std::string(tessera_dtype_info(p.param).name); });

TEST(cuda_ops, GetRowsReportsAnOutOfRangeIdAtSynchronize) {
  TESSERA_REQUIRE_CUDA();
  OpCase c;
  c.op = TESSERA_OP_GET_ROWS;
  c.src = {input(TESSERA_DTYPE_F32, {8, 4}, random_floats(32, 11)), input(TESSERA_DTYPE_I32, {2}, std::vector<int32_t>{1, 4})};
  c.dst_ne = {8, 2};
  try {
    c.run("cuda", kCuda);
    FAIL() << "an id past the table was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("row id at index 1"), std::string::npos) << e.what();
  }
}

TEST(cuda_ops, MalformedNodesAreRejectedBeforeAnythingRuns) {
  TESSERA_REQUIRE_CUDA();
  OpCase c;
  c.op = TESSERA_OP_RMS_NORM;
  c.src = {input(TESSERA_DTYPE_F32, {16, 2}, random_floats(32, 12))};
  c.dst_ne = {16, 3};
  try {
    c.run("cuda", kCuda);
    FAIL() << "a dst of the wrong shape was accepted";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rms_norm (graph node 0)"), std::string::npos) << m;
    EXPECT_NE(m.find("dst 'output'"), std::string::npos) << m;
  }
  c.dst_ne = {16, 2};
  c.src[0].dtype = TESSERA_DTYPE_F16;
  c.src[0].bytes.resize(64);
  try {
    c.run("cuda", kCuda);
    FAIL() << "rms_norm of F16 was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not support"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tessera::cuda_test
