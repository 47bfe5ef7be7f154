// The GEMM path for prefill-sized batches: x converted to 16 bits, the
// weight dequantized to f16 slab by slab in the Workspace (F16 / BF16
// weights used in place, F32 weights multiplied in f32), and cuBLAS GemmEx
// with f32 output and f32 accumulation on the tensor cores.
//
// cuBLAS is column-major: the row-major weight [n_out][k] is a k x n_out
// matrix (transposed in the call), x [n_rows][k] a k x n_rows matrix, and
// y [n_rows][n_out] the n_out x n_rows result with leading dimension ys.
#include <climits>
#include <cstdint>

#include "kernels/mul_mat/internal.cuh"
#include "kernels/mul_mat/plan.hpp"
#include "workspace.hpp"

namespace tessera::cuda::mm {
namespace {

cudaError_t gemm(cublasHandle_t h, int64_t m, int64_t n, int64_t k, const void* w, cudaDataType wt, int64_t ldw,
                 const void* x, cudaDataType xt, int64_t ldx, float* y, int64_t ldy) {
  for (int64_t v : {m, n, k, ldw, ldx, ldy})
    if (v < 1 || v > INT_MAX) return cudaErrorInvalidValue;
  const float alpha = 1.0f, beta = 0.0f;
  return cuda_error_of(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(n),
                                    static_cast<int>(k), &alpha, w, wt, static_cast<int>(ldw), x, xt,
                                    static_cast<int>(ldx), &beta, y, CUDA_R_32F, static_cast<int>(ldy),
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace

cudaError_t cuda_error_of(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return cudaSuccess;
    case CUBLAS_STATUS_ALLOC_FAILED: return cudaErrorMemoryAllocation;
    case CUBLAS_STATUS_INVALID_VALUE: return cudaErrorInvalidValue;
    case CUBLAS_STATUS_NOT_SUPPORTED: return cudaErrorNotSupported;
    case CUBLAS_STATUS_ARCH_MISMATCH: return cudaErrorInvalidDeviceFunction;
    case CUBLAS_STATUS_EXECUTION_FAILED: return cudaErrorLaunchFailure;
    case CUBLAS_STATUS_NOT_INITIALIZED: return cudaErrorInitializationError;
    default: return cudaErrorUnknown;
  }
}

cudaError_t run_mat_mat(const MulMatArgs& a, cudaStream_t stream, cublasHandle_t cublas, Workspace& ws) {
  const int32_t dt = a.weight_dtype;
  if (dt == TESSERA_DTYPE_F32) {
    if (a.weight_row_bytes % 4 != 0) return cudaErrorMisalignedAddress;
    return gemm(cublas, a.n_out, a.n_rows, a.k, a.weight, CUDA_R_32F, static_cast<int64_t>(a.weight_row_bytes / 4),
                a.x, CUDA_R_32F, a.x_row_stride, a.y, a.y_row_stride);
  }
  const MatMatPlan plan = mat_mat_plan(dt, a.k, a.n_out, a.n_rows);
  void* base = nullptr;
  if (cudaError_t e = ws.reserve(plan.total_bytes, stream, &base); e != cudaSuccess) return e;
  auto* bytes = static_cast<uint8_t*>(base);
  void* xh = bytes + plan.x_offset;
  const bool gptq = is_gptq(dt);
  const bool bf16 = dt == TESSERA_DTYPE_BF16;
  cudaError_t e = gptq ? launch_gptq_gather_x(a, static_cast<__half*>(xh), stream)
                       : launch_convert_x(a.x, a.x_row_stride, a.n_rows, a.k, bf16, xh, stream);
  if (e != cudaSuccess) return e;
  if (dt == TESSERA_DTYPE_F16 || bf16) {
    if (a.weight_row_bytes % 2 != 0) return cudaErrorMisalignedAddress;
    const cudaDataType t = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    return gemm(cublas, a.n_out, a.n_rows, a.k, a.weight, t, static_cast<int64_t>(a.weight_row_bytes / 2), xh, t, a.k,
                a.y, a.y_row_stride);
  }
  auto* slab = reinterpret_cast<__half*>(bytes + plan.weight_offset);
  for (int64_t m0 = 0; m0 < a.n_out; m0 += plan.slab_rows) {
    const int64_t rows = a.n_out - m0 < plan.slab_rows ? a.n_out - m0 : plan.slab_rows;
    e = gptq ? launch_gptq_dequantize_f16(a, m0, rows, slab, stream) : launch_dequantize_rows_f16(a, m0, rows, slab, stream);
    if (e != cudaSuccess) return e;
    e = gemm(cublas, rows, a.n_rows, a.k, slab, CUDA_R_16F, a.k, xh, CUDA_R_16F, a.k, a.y + m0, a.y_row_stride);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace tessera::cuda::mm
