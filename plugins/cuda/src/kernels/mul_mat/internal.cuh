// Launchers shared between the files of the matrix-product kernels (one
// kernel family per file); mul_mat.cu picks among them. All enqueue on
// `stream`, never synchronize, and return the launch status.
#pragma once

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/mul_mat/mul_mat.cuh"

namespace tessera::cuda::mm {

// mat_vec.cu: y rows [0, a.n_rows) for a.n_rows <= kMatVecMaxRows, GGUF
// float and block-quantized weights streamed from global memory.
cudaError_t launch_mat_vec(const MulMatArgs& a, cudaStream_t stream);

// dequantize.cu: rows [row0, row0 + rows) of a GGUF weight as 16-bit values
// (f16) into out[rows][k].
cudaError_t launch_dequantize_rows_f16(const MulMatArgs& a, int64_t row0, int64_t rows, __half* out,
                                       cudaStream_t stream);
// x (n_rows x k, row stride xs) into contiguous 16-bit rows: f16, or bf16 when `bf16`.
cudaError_t launch_convert_x(const float* x, int64_t xs, int64_t n_rows, int64_t k, bool bf16, void* out,
                             cudaStream_t stream);

// gptq.cu
cudaError_t launch_gptq_mat_vec(const MulMatArgs& a, float* partials, cudaStream_t stream);
// x[r][perm[k]] as f16 rows [n_rows][k] (the weight's sorted input order).
cudaError_t launch_gptq_gather_x(const MulMatArgs& a, __half* out, cudaStream_t stream);
// Output columns [n0, n0 + cols) of a GPTQ weight as f16 rows out[cols][k],
// in the sorted input order of launch_gptq_gather_x.
cudaError_t launch_gptq_dequantize_f16(const MulMatArgs& a, int64_t n0, int64_t cols, __half* out,
                                       cudaStream_t stream);

// mat_mat.cu: the whole product through cuBLAS (any n_rows), scratch from `ws`.
cudaError_t run_mat_mat(const MulMatArgs& a, cudaStream_t stream, cublasHandle_t cublas, Workspace& ws);

// cuBLAS status as the cudaError_t mul_mat() returns.
cudaError_t cuda_error_of(cublasStatus_t s);

}  // namespace tessera::cuda::mm
