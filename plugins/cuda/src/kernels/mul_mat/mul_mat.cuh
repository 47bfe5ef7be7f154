// The entry point of the matrix-product kernels (mat-vec for every GGUF
// weight type, mat-mat via tensor cores / cuBLAS, GPTQ). The graph executor
// calls only this; everything else under mul_mat/ is private to it.
#pragma once

#include <cstdint>

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace tessera::cuda {

class Workspace;  // workspace.hpp: grow-only device scratch of one backend

// y[r, m] = sum_k weight[m, k] * x[r, k] for r < n_rows, m < n_out.
struct MulMatArgs {
  int32_t weight_dtype = -1;       // tessera_dtype of the weight
  const void* weight = nullptr;    // device pointer, n_out rows of k values
  int64_t k = 0;                   // input features (row length of weight and x)
  int64_t n_out = 0;               // output features (rows of weight)
  uint64_t weight_row_bytes = 0;   // bytes per weight row; 0 for GPTQ composites
  const float* x = nullptr;        // device, n_rows rows
  int64_t x_row_stride = 0;        // in floats
  int64_t n_rows = 0;              // tokens
  float* y = nullptr;              // device, n_rows rows of n_out
  int64_t y_row_stride = 0;        // in floats
};

// Host-side capability: whether mul_mat() handles this weight dtype.
bool mul_mat_supported(int32_t weight_dtype);

// Enqueues the product on `stream` (may use `cublas`, already bound to that
// stream, and scratch from `ws`). Returns cudaSuccess or the first error;
// must not synchronize the stream (it may be captured into a CUDA graph).
cudaError_t mul_mat(const MulMatArgs& a, cudaStream_t stream, cublasHandle_t cublas, Workspace& ws);

}  // namespace tessera::cuda
