// bench_cuda_mul_mat: times the cuda plugin's mat-vec (decode, one row of x)
// for every weight type on 4096 x 4096, 11008 x 4096 and 4096 x 11008
// (n_out x k) weights (and, with
// --rows N, N rows), with CUDA events, and reports the weight bandwidth it
// reaches against the device's measured copy bandwidth (a 1 GiB
// device-to-device cudaMemcpy, which reads and writes each byte). Not a
// test: it prints a table. Without a usable GPU it says why and exits 0.
//
//   bench_cuda_mul_mat [--rows N] [--iters N] [--gemm]
//   --gemm also times 512-row products (dequantize + cuBLAS) in TFLOP/s.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gptq_builder.hpp"
#include "kernels/mul_mat/mul_mat.cuh"
#include "tessera/quant/gptq.hpp"
#include "tessera/quant/quantize.hpp"
#include "workspace.hpp"

namespace {

using tessera::cuda::MulMatArgs;

bool check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "bench_cuda_mul_mat: %s: %s (%s)\n", what, cudaGetErrorString(e), cudaGetErrorName(e));
  return false;
}

#define CHECK(expr)                         \
  do {                                      \
    if (!check((expr), #expr)) std::exit(1); \
  } while (0)

// Times `launch` (already warmed up) over `iters` runs; milliseconds per run.
template <class F>
float time_ms(cudaStream_t stream, int iters, F&& launch) {
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  CHECK(launch());
  CHECK(cudaStreamSynchronize(stream));
  CHECK(cudaEventRecord(start, stream));
  for (int i = 0; i < iters; ++i) CHECK(launch());
  CHECK(cudaEventRecord(stop, stream));
  CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
  return ms / static_cast<float>(iters);
}

// Weight bytes for k x n of dtype from random values.
std::vector<uint8_t> make_weight(int32_t dtype, int64_t k, int64_t n, uint64_t* row_bytes) {
  std::mt19937 rng(static_cast<uint32_t>(dtype + k));
  std::normal_distribution<float> dist(0.0f, 0.05f);
  const bool gptq = tessera::quant::gptq_bits_of(dtype) != 0;
  const int64_t kDistinct = 64;  // rows of distinct values outside GPTQ (see below)
  std::vector<float> w(static_cast<size_t>(k * (gptq ? n : std::min(n, kDistinct))));
  for (auto& v : w) v = dist(rng);
  if (gptq) {
    tessera::test::GptqSpec s;
    s.bits = tessera::quant::gptq_bits_of(dtype);
    s.k = static_cast<uint64_t>(k);
    s.n = static_cast<uint64_t>(n);
    s.group_size = 128;
    s.act_order = true;
    *row_bytes = 0;
    return tessera::test::build_gptq(s, w).bytes;
  }
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  *row_bytes = static_cast<uint64_t>(k) / t.block_elements * t.block_bytes;
  std::vector<uint8_t> out(*row_bytes * static_cast<uint64_t>(n));
  // The reference quantizers search scales and are slow on 45M values: quantize
  // kDistinct rows and repeat them (the kernels' speed does not depend on the values).
  for (int64_t m = 0; m < n && m < kDistinct; ++m) {
    const float* row = w.data() + m * k;
    uint8_t* dst = out.data() + static_cast<uint64_t>(m) * *row_bytes;
    if (dtype == TESSERA_DTYPE_F32) {
      std::memcpy(dst, row, static_cast<size_t>(k) * 4);
    } else if (dtype == TESSERA_DTYPE_F16 || dtype == TESSERA_DTYPE_BF16) {
      for (int64_t i = 0; i < k; ++i) {
        const uint16_t h = dtype == TESSERA_DTYPE_F16 ? tessera::quant::f32_to_f16(row[i]) : tessera::quant::f32_to_bf16(row[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
    } else {
      tessera::quant::quantize_row(dtype, row, dst, k);
    }
  }
  for (int64_t m = kDistinct; m < n; ++m)
    std::memcpy(out.data() + static_cast<uint64_t>(m) * *row_bytes,
                out.data() + static_cast<uint64_t>(m % kDistinct) * *row_bytes, *row_bytes);
  return out;
}

std::string dtype_name(int32_t dtype) {
  const char* n = tessera_dtype_info(dtype).name;
  return n != nullptr ? n : "GPTQ_" + std::to_string(tessera::quant::gptq_bits_of(dtype)) + "BIT";
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1;
  int iters = 200;
  bool gemm = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rows" && i + 1 < argc) rows = std::atoll(argv[++i]);
    else if (arg == "--iters" && i + 1 < argc) iters = std::atoi(argv[++i]);
    else if (arg == "--gemm") gemm = true;
    else {
      std::fprintf(stderr, "usage: bench_cuda_mul_mat [--rows N] [--iters N] [--gemm]\n");
      return 2;
    }
  }
  if (rows < 1 || iters < 1) {
    std::fprintf(stderr, "bench_cuda_mul_mat: --rows and --iters must be positive\n");
    return 2;
  }
  int devices = 0;
  if (cudaError_t e = cudaGetDeviceCount(&devices); e != cudaSuccess || devices == 0) {
    std::printf("bench_cuda_mul_mat: skipped, no CUDA device (%s)\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount reports 0 devices");
    return 0;
  }
  CHECK(cudaSetDevice(0));
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cublasHandle_t cublas;
  if (cublasCreate(&cublas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(cublas, stream) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench_cuda_mul_mat: cuBLAS setup failed\n");
    return 1;
  }
  tessera::cuda::Workspace ws(0);

  // Copy bandwidth: 1 GiB device to device moves 2 GiB (read + write).
  const size_t copy_bytes = size_t{1} << 30;
  void *src = nullptr, *dst = nullptr;
  CHECK(cudaMalloc(&src, copy_bytes));
  CHECK(cudaMalloc(&dst, copy_bytes));
  CHECK(cudaMemsetAsync(src, 1, copy_bytes, stream));
  const float copy_ms = time_ms(stream, 10, [&] { return cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice, stream); });
  const double copy_gbs = 2.0 * static_cast<double>(copy_bytes) / (copy_ms * 1e-3) / 1e9;
  CHECK(cudaFree(src));
  CHECK(cudaFree(dst));
  std::printf("device: %s (sm_%d%d), copy bandwidth %.0f GB/s (1 GiB cudaMemcpy D2D, read + write)\n", prop.name,
              prop.major, prop.minor, copy_gbs);
  std::printf("mat-vec with %lld row(s) of x, %d iterations each\n\n", static_cast<long long>(rows), iters);
  std::printf("%-12s %-13s %10s %10s %10s %8s\n", "type", "shape (n x k)", "MiB", "us", "GB/s", "of copy");

  const int32_t types[] = {TESSERA_DTYPE_F32,    TESSERA_DTYPE_F16,      TESSERA_DTYPE_BF16,     TESSERA_DTYPE_Q4_0,
                           TESSERA_DTYPE_Q4_1,   TESSERA_DTYPE_Q5_0,     TESSERA_DTYPE_Q5_1,     TESSERA_DTYPE_Q8_0,
                           TESSERA_DTYPE_Q2_K,   TESSERA_DTYPE_Q3_K,     TESSERA_DTYPE_Q4_K,     TESSERA_DTYPE_Q5_K,
                           TESSERA_DTYPE_Q6_K,   TESSERA_DTYPE_Q8_K,     TESSERA_DTYPE_IQ4_NL,   TESSERA_DTYPE_IQ4_XS,
                           TESSERA_DTYPE_GPTQ_4BIT, TESSERA_DTYPE_GPTQ_8BIT, TESSERA_DTYPE_GPTQ_3BIT};
  // {n_out, k}: attention-sized, FFN up / gate, FFN down (K = 11008: Q6_K rows not 16-byte aligned).
  const int64_t shapes[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  for (int32_t dtype : types) {
    for (const auto& shape : shapes) {
      const int64_t n = shape[0], k = shape[1];
      uint64_t row_bytes = 0;
      const std::vector<uint8_t> host = make_weight(dtype, k, n, &row_bytes);
      void *w = nullptr, *x = nullptr, *y = nullptr;
      const int64_t bench_rows = gemm ? 512 : rows;
      CHECK(cudaMalloc(&w, host.size()));
      CHECK(cudaMalloc(&x, static_cast<size_t>(bench_rows * k) * 4));
      CHECK(cudaMalloc(&y, static_cast<size_t>(bench_rows * n) * 4));
      CHECK(cudaMemcpy(w, host.data(), host.size(), cudaMemcpyHostToDevice));
      CHECK(cudaMemset(x, 0, static_cast<size_t>(bench_rows * k) * 4));
      CHECK(cudaDeviceSynchronize());  // `stream` (non-blocking) does not wait for the legacy stream
      MulMatArgs a;
      a.weight_dtype = dtype;
      a.weight = w;
      a.k = k;
      a.n_out = n;
      a.weight_row_bytes = row_bytes;
      a.x = static_cast<const float*>(x);
      a.x_row_stride = k;
      a.n_rows = rows;
      a.y = static_cast<float*>(y);
      a.y_row_stride = n;
      const float ms = time_ms(stream, iters, [&] { return tessera::cuda::mul_mat(a, stream, cublas, ws); });
      const double gbs = static_cast<double>(host.size()) / (ms * 1e-3) / 1e9;
      std::printf("%-12s %5lld x %-5lld %10.1f %10.1f %10.0f %7.0f%%\n", dtype_name(dtype).c_str(),
                  static_cast<long long>(n), static_cast<long long>(k), static_cast<double>(host.size()) / (1 << 20),
                  ms * 1e3, gbs, 100.0 * gbs / copy_gbs);
      if (gemm) {
        a.n_rows = 512;
        const float gms = time_ms(stream, 20, [&] { return tessera::cuda::mul_mat(a, stream, cublas, ws); });
        std::printf("%-12s %5lld x %-5lld   512-row GEMM path: %.1f us, %.1f TFLOP/s\n", dtype_name(dtype).c_str(),
                    static_cast<long long>(n), static_cast<long long>(k), gms * 1e3,
                    2.0 * 512 * static_cast<double>(n) * static_cast<double>(k) / (gms * 1e-3) / 1e12);
      }
      CHECK(cudaFree(w));
      CHECK(cudaFree(x));
      CHECK(cudaFree(y));
    }
  }
  cublasDestroy(cublas);
  CHECK(cudaStreamDestroy(stream));
  return 0;
}
