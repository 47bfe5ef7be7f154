// MUL_MAT through the cuda plugin's C ABI (node validation, per-batch calls
// of ops.cpp, then the kernels of plugins/cuda/src/kernels/mul_mat) against
// the cpu plugin's scalar reference path, for every GGUF weight type the
// cuda plugin reports in supports_op, and GPTQ 3/4/8-bit. Tolerances as in test_cuda_mul_mat:
// 1e-5 on the mat-vec path (<= 16 rows), 2e-3 (8e-3 for BF16) on the
// f16 / bf16 GEMM path; F32 weights 1e-5 on both.
#include <cstring>

#include "cuda_test_support.hpp"
#include "gptq_builder.hpp"
#include "tessera/quant/quantize.hpp"

namespace tessera::cuda_test {
namespace {

const std::string kCpuScalar = "{backend: cpu, threads: 2, kernels: scalar}";

std::vector<uint8_t> weight_bytes(int32_t dtype, int64_t k, int64_t n, uint32_t seed) {
  const std::vector<float> w = random_floats(static_cast<std::size_t>(k * n), seed, -0.2f, 0.2f);
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  const uint64_t row_bytes = static_cast<uint64_t>(k) / t.block_elements * t.block_bytes;
  std::vector<uint8_t> out(row_bytes * static_cast<uint64_t>(n));
  for (int64_t m = 0; m < n; ++m) {
    const float* row = w.data() + m * k;
    uint8_t* dst = out.data() + static_cast<uint64_t>(m) * row_bytes;
    if (dtype == TESSERA_DTYPE_F32) {
      std::memcpy(dst, row, static_cast<std::size_t>(k) * 4);
    } else if (dtype == TESSERA_DTYPE_F16 || dtype == TESSERA_DTYPE_BF16) {
      for (int64_t i = 0; i < k; ++i) {
        const uint16_t h = dtype == TESSERA_DTYPE_F16 ? quant::f32_to_f16(row[i]) : quant::f32_to_bf16(row[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
    } else if (!quant::quantize_row(dtype, row, dst, k)) {
      throw std::runtime_error("no reference quantizer for dtype " + std::to_string(dtype));
    }
  }
  return out;
}

TEST(cuda_mul_mat_plugin, EveryWeightTypeMatchesTheCpuReference) {
  TESSERA_REQUIRE_CUDA();
  const int32_t types[] = {TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0,
                           TESSERA_DTYPE_Q4_1, TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0,
                           TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K, TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K,
                           TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL, TESSERA_DTYPE_IQ4_XS};
  const int64_t k = 768, n = 72;
  for (int32_t dtype : types) {
    const std::vector<uint8_t> w = weight_bytes(dtype, k, n, 40u + static_cast<uint32_t>(dtype));
    // x [k, rows, 2]: two activation batches, so ops.cpp makes two calls.
    for (int64_t rows : {1, 5, 40}) {
      OpCase c;
      c.op = TESSERA_OP_MUL_MAT;
      Input weight{dtype, {k, n}, w};
      c.src = {weight, input(TESSERA_DTYPE_F32, {k, rows, 2}, random_floats(static_cast<std::size_t>(k * rows * 2), 7))};
      c.dst_ne = {n, rows, 2};
      const std::vector<float> gpu = c.run_floats("cuda", kCuda);
      const std::vector<float> ref = c.run_floats("cpu", kCpuScalar);
      const double err = relative_error(gpu, ref);
      const double tol = rows <= 16 || dtype == TESSERA_DTYPE_F32 ? 1e-5 : dtype == TESSERA_DTYPE_BF16 ? 8e-3 : 2e-3;
      const std::string what = std::string(tessera_dtype_info(dtype).name) + " rows=" + std::to_string(rows);
      EXPECT_LE(err, tol) << what;
      std::printf("%-16s relative error %.3g\n", what.c_str(), err);
    }
  }
}

// y = W x on `plugin_name` with a GPTQ weight (one header-described blob:
// its own buffer, no row strides) and x [k, rows].
std::vector<float> run_gptq(const std::string& plugin_name, const std::string& yaml, int32_t dtype,
                            const std::vector<uint8_t>& blob, int64_t k, int64_t n, const std::vector<float>& x,
                            int64_t rows) {
  Backend b(plugin_name, yaml);
  tessera_tensor w{};
  w.struct_size = sizeof w;
  w.dtype = dtype;
  w.n_dims = 2;
  w.ne[0] = k;
  w.ne[1] = n;
  w.ne[2] = w.ne[3] = 1;
  w.buffer = b.alloc(blob.size());
  w.name = "gptq weight";
  b.write(w, 0, blob.data(), blob.size());
  tessera_tensor xt = b.tensor(TESSERA_DTYPE_F32, {k, rows}, x.data(), "x");
  tessera_tensor y = b.tensor(TESSERA_DTYPE_F32, {n, rows}, nullptr, "y");
  tessera_node node = make_node(TESSERA_OP_MUL_MAT, &y, {&w, &xt});
  const auto [status, message] = b.execute({&node});
  if (status != TESSERA_OK) throw std::runtime_error(plugin_name + ": " + message);
  return b.read_floats(y);
}

// Long F32 / F16 / BF16 rows (K = 4360: 545 chunks of 8, so lanes end the
// load-ahead loop at different chunks and one runs a tail) with 1-8
// activation rows: the mat-vec's load-ahead path, which K = 768 above
// barely enters.
TEST(cuda_mul_mat_plugin, FloatWeightsLongRowsMatchTheCpuReference) {
  TESSERA_REQUIRE_CUDA();
  const int64_t k = 4360, n = 40;
  for (int32_t dtype : {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_BF16}) {
    const std::vector<uint8_t> w = weight_bytes(dtype, k, n, 60u + static_cast<uint32_t>(dtype));
    for (int64_t rows : {1, 3, 8}) {
      OpCase c;
      c.op = TESSERA_OP_MUL_MAT;
      c.src = {Input{dtype, {k, n}, w}, input(TESSERA_DTYPE_F32, {k, rows}, random_floats(static_cast<std::size_t>(k * rows), 8))};
      c.dst_ne = {n, rows};
      const double err = relative_error(c.run_floats("cuda", kCuda), c.run_floats("cpu", kCpuScalar));
      const std::string what = std::string(tessera_dtype_info(dtype).name) + " K=4360 rows=" + std::to_string(rows);
      EXPECT_LE(err, 1e-5) << what;
      std::printf("%-24s relative error %.3g\n", what.c_str(), err);
    }
  }
}

TEST(cuda_mul_mat_plugin, GptqMatchesTheCpuReference) {
  TESSERA_REQUIRE_CUDA();
  const int64_t k = 512, n = 96;
  for (uint32_t bits : {3u, 4u, 8u}) {
    test::GptqSpec spec;
    spec.bits = bits;
    spec.k = static_cast<uint64_t>(k);
    spec.n = static_cast<uint64_t>(n);
    spec.group_size = 128;
    spec.act_order = true;
    spec.seed = bits;
    const test::GptqTensor t = test::build_gptq(spec, random_floats(static_cast<std::size_t>(k * n), bits, -0.2f, 0.2f));
    const int32_t dtype = bits == 3 ? TESSERA_DTYPE_GPTQ_3BIT : bits == 4 ? TESSERA_DTYPE_GPTQ_4BIT : TESSERA_DTYPE_GPTQ_8BIT;
    for (int64_t rows : {1, 40}) {
      const std::vector<float> x = random_floats(static_cast<std::size_t>(k * rows), 9);
      const std::vector<float> gpu = run_gptq("cuda", kCuda, dtype, t.bytes, k, n, x, rows);
      const std::vector<float> ref = run_gptq("cpu", kCpuScalar, dtype, t.bytes, k, n, x, rows);
      const double err = relative_error(gpu, ref);
      const std::string what = "GPTQ " + std::to_string(bits) + "-bit rows=" + std::to_string(rows);
      EXPECT_LE(err, rows <= 16 ? 1e-5 : 2e-3) << what;
      std::printf("%-20s relative error %.3g\n", what.c_str(), err);
    }
  }
}

}  // namespace
}  // namespace tessera::cuda_test
