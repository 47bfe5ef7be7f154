// The cuda plugin's matrix-product kernels (plugins/cuda/src/kernels/mul_mat)
// called directly, for every weight type they take, against a CPU reference:
// the SDK's reference dequantizers (quant::dequantize_row,
// quant::gptq_dequantize) and double-precision dot products. Weights are
// random floats quantized by the SDK's reference quantizers (GPTQ: the test
// GPTQ builder). Skips without a usable CUDA device.
//
// Tolerances, relative norm error ||gpu - ref|| / ||ref|| over all outputs:
//   mat-vec (f32 weights decoded in registers, f32 accumulation): 1e-5
//   GEMM path, F32 weights (cuBLAS in f32): 1e-5
//   GEMM path, weights and x in f16 (tensor cores, f32 accumulation): 2e-3
//   GEMM path, BF16 weights and x in bf16: 8e-3 (8-bit mantissa)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gpu_expected.hpp"
#include "gptq_builder.hpp"
#include "kernels/mul_mat/mul_mat.cuh"
#include "kernels/mul_mat/plan.hpp"
#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/gptq.hpp"
#include "tessera/quant/quantize.hpp"
#include "workspace.hpp"

namespace tessera::cuda {
namespace {

std::string no_gpu_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  if (n == 0) return "cudaGetDeviceCount reports 0 devices";
  return {};
}

#define REQUIRE_GPU()                                                                    \
  do {                                                                                   \
    const std::string why_ = no_gpu_reason();                                            \
    if (!why_.empty() && ::tessera::test::gpu_expected())                                \
      FAIL() << "no CUDA device, though TESSERA_EXPECT_GPU=1: " << why_;                 \
    if (!why_.empty()) GTEST_SKIP() << "no CUDA device: " << why_;                       \
  } while (0)

#define CUDA_OK(expr)                                                                              \
  do {                                                                                             \
    const cudaError_t e_ = (expr);                                                                 \
    ASSERT_EQ(e_, cudaSuccess) << #expr << ": " << cudaGetErrorName(e_) << " " << cudaGetErrorString(e_); \
  } while (0)

// One stream, cuBLAS handle and workspace for the whole test program.
struct Gpu {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  Workspace ws{0};
  Gpu() {
    if (cudaSetDevice(0) != cudaSuccess || cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess)
      throw std::runtime_error("cuda stream setup failed");
    if (cublasCreate(&cublas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(cublas, stream) != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error("cublas setup failed");
  }
};

Gpu& gpu() {
  static Gpu* g = new Gpu;  // never destroyed: the CUDA runtime may be torn down first at exit
  return *g;
}

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(std::size_t bytes) {
    if (cudaMalloc(&p, bytes == 0 ? 1 : bytes) != cudaSuccess) throw std::runtime_error("cudaMalloc failed");
  }
  ~DeviceBuffer() { (void)cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  uint8_t* bytes() const { return static_cast<uint8_t*>(p); }
};

std::vector<float> random_floats(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A weight in its stored layout and the floats it stands for.
struct Weight {
  int32_t dtype = 0;
  int64_t k = 0, n_out = 0;
  uint64_t row_bytes = 0;      // 0 for GPTQ
  std::vector<uint8_t> bytes;  // stored layout
  std::vector<float> values;   // [n_out][k], dequantized by the SDK reference
};

Weight make_weight(int32_t dtype, int64_t k, int64_t n_out, uint32_t seed) {
  Weight w;
  w.dtype = dtype;
  w.k = k;
  w.n_out = n_out;
  std::vector<float> src = random_floats(static_cast<std::size_t>(k * n_out), seed);
  for (int64_t m = 0; m < n_out; ++m)  // rows of different magnitudes
    for (int64_t i = 0; i < k; ++i) src[static_cast<std::size_t>(m * k + i)] *= 0.05f + 0.01f * static_cast<float>(m % 7);
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  w.row_bytes = static_cast<uint64_t>(k) / t.block_elements * t.block_bytes;
  w.bytes.resize(w.row_bytes * static_cast<uint64_t>(n_out));
  w.values.resize(src.size());
  for (int64_t m = 0; m < n_out; ++m) {
    const float* row = src.data() + m * k;
    uint8_t* out = w.bytes.data() + static_cast<uint64_t>(m) * w.row_bytes;
    if (dtype == TESSERA_DTYPE_F32) {
      std::memcpy(out, row, static_cast<std::size_t>(k) * 4);
    } else if (dtype == TESSERA_DTYPE_F16 || dtype == TESSERA_DTYPE_BF16) {
      for (int64_t i = 0; i < k; ++i) {
        const uint16_t h = dtype == TESSERA_DTYPE_F16 ? quant::f32_to_f16(row[i]) : quant::f32_to_bf16(row[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
    } else if (!quant::quantize_row(dtype, row, out, k)) {
      throw std::runtime_error("no reference quantizer for dtype " + std::to_string(dtype));
    }
    if (!quant::dequantize_row(dtype, out, w.values.data() + m * k, k))
      throw std::runtime_error("no reference dequantizer for dtype " + std::to_string(dtype));
  }
  return w;
}

Weight make_gptq_weight(uint32_t bits, int64_t k, int64_t n_out, int64_t group_size, bool act_order, uint32_t seed) {
  test::GptqSpec spec;
  spec.bits = bits;
  spec.k = static_cast<uint64_t>(k);
  spec.n = static_cast<uint64_t>(n_out);
  spec.group_size = group_size;
  spec.act_order = act_order;
  spec.seed = seed;
  const std::vector<float> src = random_floats(static_cast<std::size_t>(k * n_out), seed);
  const test::GptqTensor t = test::build_gptq(spec, src);
  Weight w;
  w.dtype = bits == 4 ? TESSERA_DTYPE_GPTQ_4BIT : bits == 8 ? TESSERA_DTYPE_GPTQ_8BIT : TESSERA_DTYPE_GPTQ_3BIT;
  w.k = k;
  w.n_out = n_out;
  w.bytes = t.bytes;
  const std::string problem = quant::gptq_check(w.bytes.data(), w.bytes.size(), w.dtype, k, n_out);
  if (!problem.empty()) throw std::runtime_error("test GPTQ tensor: " + problem);
  w.values.resize(static_cast<std::size_t>(k * n_out));
  quant::gptq_dequantize(w.bytes.data(), w.values.data());
  return w;
}

struct Shape {
  int64_t n_rows = 1;
  int64_t x_pad = 0, y_pad = 0;  // extra floats per row of x / y
  uint64_t w_offset = 0;         // bytes between the allocation and the weight
};

constexpr float kSentinel = 1234.5f;

// Runs mul_mat once; returns the relative error against the reference and
// checks that y's padding was left alone.
double run_case(const Weight& w, const Shape& s, const std::string& what) {
  Gpu& g = gpu();
  const int64_t xs = w.k + s.x_pad, ys = w.n_out + s.y_pad;
  const std::vector<float> x = random_floats(static_cast<std::size_t>(s.n_rows * xs), 99u + static_cast<uint32_t>(s.n_rows));
  DeviceBuffer dw(w.bytes.size() + s.w_offset), dx(x.size() * 4), dy(static_cast<std::size_t>(s.n_rows * ys) * 4);
  std::vector<float> y(static_cast<std::size_t>(s.n_rows * ys), kSentinel);
  EXPECT_EQ(cudaMemcpy(dw.bytes() + s.w_offset, w.bytes.data(), w.bytes.size(), cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(dx.p, x.data(), x.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(dy.p, y.data(), y.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  // The copies above run on the legacy stream, which g.stream (non-blocking)
  // does not wait for, and a pageable copy may return before its DMA lands.
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  MulMatArgs a;
  a.weight_dtype = w.dtype;
  a.weight = dw.bytes() + s.w_offset;
  a.k = w.k;
  a.n_out = w.n_out;
  a.weight_row_bytes = w.row_bytes;
  a.x = static_cast<const float*>(dx.p);
  a.x_row_stride = xs;
  a.n_rows = s.n_rows;
  a.y = static_cast<float*>(dy.p);
  a.y_row_stride = ys;
  const cudaError_t e = mul_mat(a, g.stream, g.cublas, g.ws);
  EXPECT_EQ(e, cudaSuccess) << what << ": " << cudaGetErrorName(e);
  EXPECT_EQ(cudaStreamSynchronize(g.stream), cudaSuccess) << what;
  EXPECT_EQ(cudaMemcpy(y.data(), dy.p, y.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);

  double diff = 0, norm = 0;
  int64_t pad_touched = 0, non_finite = 0;
  for (int64_t r = 0; r < s.n_rows; ++r) {
    for (int64_t m = 0; m < w.n_out; ++m) {
      double ref = 0;
      const float* wr = w.values.data() + m * w.k;
      const float* xr = x.data() + r * xs;
      for (int64_t i = 0; i < w.k; ++i) ref += static_cast<double>(wr[i]) * xr[i];
      const double got = y[static_cast<std::size_t>(r * ys + m)];
      if (!std::isfinite(got)) ++non_finite;
      diff += (got - ref) * (got - ref);
      norm += ref * ref;
    }
    for (int64_t m = w.n_out; m < ys; ++m) pad_touched += y[static_cast<std::size_t>(r * ys + m)] != kSentinel;
  }
  EXPECT_EQ(non_finite, 0) << what;
  EXPECT_EQ(pad_touched, 0) << what << ": wrote into y's row padding";
  const double err = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
  std::printf("%-44s relative error %.3g\n", what.c_str(), err);
  return err;
}

double tolerance(int32_t dtype, int64_t n_rows) {
  if (mm::choose_path(n_rows) == mm::Path::mat_vec || dtype == TESSERA_DTYPE_F32) return 1e-5;
  return dtype == TESSERA_DTYPE_BF16 ? 8e-3 : 2e-3;
}

std::string name_of(int32_t dtype) {
  const char* n = tessera_dtype_info(dtype).name;
  if (n != nullptr) return n;
  return "GPTQ_" + std::to_string(quant::gptq_bits_of(dtype)) + "BIT";
}

const int32_t kGgufTypes[] = {TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0,
                              TESSERA_DTYPE_Q4_1, TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0,
                              TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K, TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K,
                              TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL, TESSERA_DTYPE_IQ4_XS};

class CudaMulMatGguf : public ::testing::TestWithParam<int32_t> {};

// Mat-vec (1, 3 and 11 rows: one and two launches) and GEMM (64 and 300
// rows) on a long row (two 2048-value mat-vec tiles and a partial one) and a
// short row whose length leaves rows unaligned in memory (Q4_0: 90 bytes,
// Q6_K: 630 bytes, F32/F16: 100 values, not a multiple of 8), with padded
// x / y strides and a weight that starts 4 bytes past a 16-byte boundary.
TEST_P(CudaMulMatGguf, MatchesReference) {
  REQUIRE_GPU();
  const int32_t dtype = GetParam();
  const uint32_t block = tessera_dtype_info(dtype).block_elements;
  const int64_t long_k = 4352, short_k = block == 1 ? 100 : block == 32 ? 160 : 768;
  const Weight big = make_weight(dtype, long_k, 301, 11u + static_cast<uint32_t>(dtype));
  const Weight small = make_weight(dtype, short_k, 130, 17u + static_cast<uint32_t>(dtype));
  struct Run {
    const Weight* w;
    Shape s;
  };
  const Run runs[] = {{&big, {1, 0, 0, 0}},    {&small, {3, 1, 5, 4}}, {&big, {11, 0, 3, 4}},
                      {&big, {64, 0, 0, 0}},   {&small, {300, 3, 2, 4}}};
  for (const Run& r : runs) {
    const std::string what = name_of(dtype) + " k=" + std::to_string(r.w->k) + " n_out=" + std::to_string(r.w->n_out) +
                             " rows=" + std::to_string(r.s.n_rows) + (mm::choose_path(r.s.n_rows) == mm::Path::mat_vec ? " mat-vec" : " gemm");
    EXPECT_LE(run_case(*r.w, r.s, what), tolerance(dtype, r.s.n_rows)) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, CudaMulMatGguf, ::testing::ValuesIn(kGgufTypes),
                         [](const ::testing::TestParamInfo<int32_t>& i) { return name_of(i.param); });

// GPTQ 3/4/8 bits, grouped and single-group, with and without act-order;
// 264 columns (not a multiple of the 256-thread blocks) and K = 544 (mat-vec:
// full 128-row K splits and a partial one).
TEST(CudaMulMatGptq, MatchesReference) {
  REQUIRE_GPU();
  for (uint32_t bits : {3u, 4u, 8u})
    for (int64_t group : {int64_t{32}, int64_t{64}, int64_t{128}, int64_t{-1}})
      for (bool act_order : {false, true}) {
        const Weight w = make_gptq_weight(bits, 544, 264, group, act_order, bits * 100 + static_cast<uint32_t>(group + 1) + act_order);
        for (int64_t rows : {1, 3, 11, 64, 300}) {
          const std::string what = name_of(w.dtype) + " group=" + std::to_string(group) + (act_order ? " act-order" : "") +
                                   " rows=" + std::to_string(rows);
          EXPECT_LE(run_case(w, {rows, rows == 3 ? 1 : 0, 2, 0}, what), tolerance(w.dtype, rows)) << what;
        }
      }
}

// A GPTQ tensor whose header does not match the node: NaN outputs, never a
// read out of bounds or plausible numbers.
TEST(CudaMulMatGptq, BadHeaderGivesNaN) {
  REQUIRE_GPU();
  Weight w = make_gptq_weight(4, 256, 64, 128, false, 5);
  w.bytes[0] ^= 0xFF;  // magic
  for (int64_t rows : {1, 40}) {
    Gpu& g = gpu();
    DeviceBuffer dw(w.bytes.size()), dx(static_cast<std::size_t>(rows * 256) * 4), dy(static_cast<std::size_t>(rows * 64) * 4);
    CUDA_OK(cudaMemcpy(dw.p, w.bytes.data(), w.bytes.size(), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(dx.p, 0, static_cast<std::size_t>(rows * 256) * 4));
    CUDA_OK(cudaDeviceSynchronize());  // g.stream does not wait for the legacy stream
    MulMatArgs a;
    a.weight_dtype = w.dtype;
    a.weight = dw.p;
    a.k = 256;
    a.n_out = 64;
    a.x = static_cast<const float*>(dx.p);
    a.x_row_stride = 256;
    a.n_rows = rows;
    a.y = static_cast<float*>(dy.p);
    a.y_row_stride = 64;
    CUDA_OK(mul_mat(a, g.stream, g.cublas, g.ws));
    CUDA_OK(cudaStreamSynchronize(g.stream));
    std::vector<float> y(static_cast<std::size_t>(rows * 64));
    CUDA_OK(cudaMemcpy(y.data(), dy.p, y.size() * 4, cudaMemcpyDeviceToHost));
    for (float v : y) ASSERT_TRUE(std::isnan(v)) << rows << " rows: " << v;
  }
}

TEST(CudaMulMat, RejectsUnsupportedTypesAndInconsistentArguments) {
  REQUIRE_GPU();
  Gpu& g = gpu();
  DeviceBuffer buf(1 << 16);
  MulMatArgs a;
  a.weight = buf.p;
  a.k = 256;
  a.n_out = 4;
  a.x = static_cast<const float*>(buf.p);
  a.x_row_stride = 256;
  a.n_rows = 1;
  a.y = static_cast<float*>(buf.p);
  a.y_row_stride = 4;
  for (int32_t d : {int32_t{TESSERA_DTYPE_Q8_1}, int32_t{TESSERA_DTYPE_IQ2_XXS}, int32_t{TESSERA_DTYPE_I32}, int32_t{999}}) {
    a.weight_dtype = d;
    EXPECT_FALSE(mul_mat_supported(d)) << d;
    EXPECT_EQ(mul_mat(a, g.stream, g.cublas, g.ws), cudaErrorNotSupported) << d;
  }
  a.weight_dtype = TESSERA_DTYPE_Q4_K;
  a.weight_row_bytes = 100;  // a 256-value Q4_K row is 144 bytes
  EXPECT_EQ(mul_mat(a, g.stream, g.cublas, g.ws), cudaErrorInvalidValue);
  a.weight_row_bytes = 144;
  a.k = 200;  // not a whole number of blocks
  EXPECT_EQ(mul_mat(a, g.stream, g.cublas, g.ws), cudaErrorInvalidValue);
  a.k = 256;
  a.n_rows = 0;  // nothing to do
  EXPECT_EQ(mul_mat(a, g.stream, g.cublas, g.ws), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(g.stream), cudaSuccess);
}

// Decode steps are captured into CUDA graphs: the mat-vec path must be
// capturable (no synchronization, no workspace growth once warmed up).
TEST(CudaMulMat, MatVecIsCapturableInACudaGraph) {
  REQUIRE_GPU();
  Gpu& g = gpu();
  for (const Weight& w : {make_weight(TESSERA_DTYPE_Q4_K, 1024, 96, 3), make_gptq_weight(4, 1024, 96, 128, true, 4)}) {
    const int64_t rows = 2;
    const std::vector<float> x = random_floats(static_cast<std::size_t>(rows * w.k), 8);
    DeviceBuffer dw(w.bytes.size()), dx(x.size() * 4), dy(static_cast<std::size_t>(rows * w.n_out) * 4);
    CUDA_OK(cudaMemcpy(dw.p, w.bytes.data(), w.bytes.size(), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dx.p, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
    CUDA_OK(cudaDeviceSynchronize());  // g.stream does not wait for the legacy stream
    MulMatArgs a;
    a.weight_dtype = w.dtype;
    a.weight = dw.p;
    a.k = w.k;
    a.n_out = w.n_out;
    a.weight_row_bytes = w.row_bytes;
    a.x = static_cast<const float*>(dx.p);
    a.x_row_stride = w.k;
    a.n_rows = rows;
    a.y = static_cast<float*>(dy.p);
    a.y_row_stride = w.n_out;
    CUDA_OK(mul_mat(a, g.stream, g.cublas, g.ws));  // warm-up: sizes the workspace
    CUDA_OK(cudaStreamSynchronize(g.stream));
    CUDA_OK(cudaMemsetAsync(dy.p, 0, static_cast<std::size_t>(rows * w.n_out) * 4, g.stream));
    cudaGraph_t graph = nullptr;
    CUDA_OK(cudaStreamBeginCapture(g.stream, cudaStreamCaptureModeThreadLocal));
    const cudaError_t captured = mul_mat(a, g.stream, g.cublas, g.ws);
    CUDA_OK(cudaStreamEndCapture(g.stream, &graph));
    CUDA_OK(captured);
    cudaGraphExec_t exec = nullptr;
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_OK(cudaGraphLaunch(exec, g.stream));
    CUDA_OK(cudaStreamSynchronize(g.stream));
    std::vector<float> y(static_cast<std::size_t>(rows * w.n_out));
    CUDA_OK(cudaMemcpy(y.data(), dy.p, y.size() * 4, cudaMemcpyDeviceToHost));
    (void)cudaGraphExecDestroy(exec);
    (void)cudaGraphDestroy(graph);
    double diff = 0, norm = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t m = 0; m < w.n_out; ++m) {
        double ref = 0;
        for (int64_t i = 0; i < w.k; ++i)
          ref += static_cast<double>(w.values[static_cast<std::size_t>(m * w.k + i)]) * x[static_cast<std::size_t>(r * w.k + i)];
        const double d = y[static_cast<std::size_t>(r * w.n_out + m)] - ref;
        diff += d * d;
        norm += ref * ref;
      }
    EXPECT_LE(std::sqrt(diff / norm), 1e-5) << name_of(w.dtype);
  }
}

}  // namespace
}  // namespace tessera::cuda
