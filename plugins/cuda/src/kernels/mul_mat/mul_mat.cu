// mul_mat(): checks the call and picks the path (plan.hpp): mat-vec launches
// of up to kMatVecMaxRows rows for decode-sized batches, the dequantize +
// cuBLAS GEMM path for larger ones.
#include "kernels/mul_mat/mul_mat.cuh"

#include <cstdint>

#include "kernels/mul_mat/internal.cuh"
#include "kernels/mul_mat/plan.hpp"
#include "tessera/types.h"
#include "workspace.hpp"

namespace tessera::cuda {

bool mul_mat_supported(int32_t weight_dtype) { return mm::supported(weight_dtype); }

namespace {

// The arguments' own consistency (the executor validated the tensors).
cudaError_t check_args(const MulMatArgs& a) {
  if (a.weight == nullptr || a.x == nullptr || a.y == nullptr) return cudaErrorInvalidValue;
  if (a.k < 1 || a.n_out < 1 || a.n_rows < 0) return cudaErrorInvalidValue;
  if (a.n_rows > 1 && (a.x_row_stride < a.k || a.y_row_stride < a.n_out)) return cudaErrorInvalidValue;
  if (mm::is_gptq(a.weight_dtype)) return cudaSuccess;  // sized by its header, checked on the device
  const tessera_dtype_traits t = tessera_dtype_info(a.weight_dtype);
  if (t.block_elements == 0 || a.k % t.block_elements != 0) return cudaErrorInvalidValue;
  if (a.weight_row_bytes < static_cast<uint64_t>(a.k) / t.block_elements * t.block_bytes) return cudaErrorInvalidValue;
  return cudaSuccess;
}

}  // namespace

cudaError_t mul_mat(const MulMatArgs& a, cudaStream_t stream, cublasHandle_t cublas, Workspace& ws) {
  if (!mm::supported(a.weight_dtype)) return cudaErrorNotSupported;
  if (cudaError_t e = check_args(a); e != cudaSuccess) return e;
  if (a.n_rows == 0) return cudaSuccess;
  if (mm::choose_path(a.n_rows) == mm::Path::mat_mat) return mm::run_mat_mat(a, stream, cublas, ws);

  const bool gptq = mm::is_gptq(a.weight_dtype);
  float* partials = nullptr;
  if (gptq) {
    const int64_t rows = a.n_rows < mm::kMatVecMaxRows ? a.n_rows : mm::kMatVecMaxRows;
    void* p = nullptr;
    if (cudaError_t e = ws.reserve(mm::gptq_mat_vec_bytes(a.k, a.n_out, rows), stream, &p); e != cudaSuccess) return e;
    partials = static_cast<float*>(p);
  }
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += mm::kMatVecMaxRows) {
    MulMatArgs part = a;
    part.x = a.x + r0 * a.x_row_stride;
    part.y = a.y + r0 * a.y_row_stride;
    part.n_rows = a.n_rows - r0 < mm::kMatVecMaxRows ? a.n_rows - r0 : mm::kMatVecMaxRows;
    const cudaError_t e = gptq ? mm::launch_gptq_mat_vec(part, partials, stream) : mm::launch_mat_vec(part, stream);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace tessera::cuda
