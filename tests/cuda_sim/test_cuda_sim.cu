// The simulator's own semantics against what the CUDA programming guide and
// PTX ISA define: warp shuffles, barriers, launch limits, stream capture,
// copy checks, cuBLAS's column-major GEMM. Written as CUDA (this file goes
// through cuda_to_cpp.py like the plugin's kernels); expected values are
// worked out by hand from those definitions.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace {

// Host vector <-> device buffer.
template <class T>
struct DeviceArray {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceArray(size_t count, T fill = T{}) : n(count) {
    EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess);
    std::vector<T> host(n, fill);
    EXPECT_EQ(cudaMemcpy(p, host.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceArray() { (void)cudaFree(p); }
  std::vector<T> get() const {
    std::vector<T> host(n);
    EXPECT_EQ(cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
};

__global__ void warp_shuffles(int* out) {
  const int lane = threadIdx.x % 32, base = threadIdx.x * 5;
  int sum = lane;
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  out[base + 0] = sum;                                    // 0 + 1 + ... + 31 = 496
  out[base + 1] = __shfl_sync(0xffffffffu, lane * 10, 7);  // lane 7's value
  out[base + 2] = __shfl_down_sync(0xffffffffu, lane, 4);  // lane + 4, own value past 31
  out[base + 3] = __shfl_xor_sync(0xffffffffu, lane, 8, 16);  // within 16-lane segments
  out[base + 4] = __shfl_up_sync(0xffffffffu, lane, 1, 8);    // lane - 1 within 8-lane segments
}

TEST(CudaSim, WarpShufflesFollowTheProgrammingGuide) {
  DeviceArray<int> out(64 * 5);
  warp_shuffles<<<1, 64>>>(out.p);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> v = out.get();
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32;
    EXPECT_EQ(v[t * 5 + 0], 496) << t;
    EXPECT_EQ(v[t * 5 + 1], 70) << t;
    EXPECT_EQ(v[t * 5 + 2], lane + 4 < 32 ? lane + 4 : lane) << t;
    EXPECT_EQ(v[t * 5 + 3], lane ^ 8) << t;
    EXPECT_EQ(v[t * 5 + 4], lane % 8 == 0 ? lane : lane - 1) << t;
  }
}

// Each thread reads its neighbour's shared-memory slot after the barrier;
// blocks and 2-D thread indices as the guide numbers them.
__global__ void neighbours(int* out) {
  __shared__ int slots[128];
  const int n = blockDim.x * blockDim.y;
  const int t = threadIdx.x + threadIdx.y * blockDim.x;
  slots[t] = t + 1000 * static_cast<int>(blockIdx.x);
  __syncthreads();
  out[blockIdx.x * n + t] = slots[(t + 1) % n];
}

TEST(CudaSim, SyncthreadsOrdersSharedMemoryAcrossWarps) {
  DeviceArray<int> out(3 * 128);
  neighbours<<<3, dim3(32, 4)>>>(out.p);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> v = out.get();
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 128; ++t) EXPECT_EQ(v[b * 128 + t], (t + 1) % 128 + 1000 * b);
}

// Lane 0 waits at __syncthreads while its warp shuffles: never completes on
// a GPU; the simulator reports it as a failed launch.
__global__ void divergent_collective(int* out) {
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    out[threadIdx.x] = __shfl_xor_sync(0xfffffffeu, static_cast<int>(threadIdx.x), 1);
  }
}

// Lane 31 exits, then the others read its value.
__global__ void shuffle_from_exited(int* out) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 31);
}

TEST(CudaSim, ReportsDeadlocksAndShufflesFromExitedLanes) {
  DeviceArray<int> out(32);
  divergent_collective<<<1, 32>>>(out.p);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  shuffle_from_exited<<<1, 32>>>(out.p);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
}

__global__ void count(int* counter) { atomicAdd(counter, 1); }

TEST(CudaSim, LaunchLimits) {
  DeviceArray<int> counter(1);
  count<<<1, 1025>>>(counter.p);  // more than 1024 threads per block
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  count<<<dim3(1, 65536), 32>>>(counter.p);  // gridDim.y above 65535
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  count<<<4, 256>>>(counter.p);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(counter.get()[0], 1024);
}

__global__ void fill_dynamic(float* out, int n) {
  extern __shared__ __align__(16) float buffer[];
  for (int i = threadIdx.x; i < n; i += blockDim.x) buffer[i] = static_cast<float>(i);
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = buffer[n - 1 - i];
}

TEST(CudaSim, DynamicSharedMemoryAboveFortyEightKiBNeedsTheOptIn) {
  const int n = 16 * 1024;  // 64 KiB of floats
  DeviceArray<float> out(static_cast<size_t>(n));
  fill_dynamic<<<1, 128, n * sizeof(float)>>>(out.p, n);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  ASSERT_EQ(cudaFuncSetAttribute(fill_dynamic, cudaFuncAttributeMaxDynamicSharedMemorySize, n * 4), cudaSuccess);
  fill_dynamic<<<1, 128, n * sizeof(float)>>>(out.p, n);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<float> v = out.get();
  for (int i = 0; i < n; i += 1111) EXPECT_EQ(v[static_cast<size_t>(i)], static_cast<float>(n - 1 - i));
}

TEST(CudaSim, CaptureRecordsAndGraphLaunchReplays) {
  DeviceArray<int> counter(1);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  count<<<2, 32, 0, stream>>>(counter.p);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaErrorStreamCaptureUnsupported);  // not allowed while capturing
  (void)cudaGetLastError();
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
  EXPECT_EQ(counter.get()[0], 0);  // captured, not run
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(counter.get()[0], 128);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST(CudaSim, CopiesMustStayInsideOneAllocation) {
  DeviceArray<uint8_t> buffer(64);
  std::vector<uint8_t> host(65, 1);
  EXPECT_EQ(cudaMemcpy(buffer.p, host.data(), 64, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(buffer.p, host.data(), 65, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), buffer.p + 1, 64, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(buffer.p, host.data(), 8, cudaMemcpyDeviceToDevice), cudaErrorInvalidValue);
  (void)cudaGetLastError();
}

TEST(CudaSim, GemmExIsColumnMajorWithTransposes) {
  // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]: A B = [[19, 22], [43, 50]].
  // A^T is stored column-major as A's rows (OP_T), B column-major (OP_N).
  const std::vector<__half> a_t = {__float2half(1), __float2half(2), __float2half(3), __float2half(4)};
  const std::vector<__half> b = {__float2half(5), __float2half(7), __float2half(6), __float2half(8)};
  __half *da = nullptr, *db = nullptr;
  float* dc = nullptr;
  ASSERT_EQ(cudaMalloc(&da, 8), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&db, 8), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dc, 16), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(da, a_t.data(), 8, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(db, b.data(), 8, cudaMemcpyHostToDevice), cudaSuccess);
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  const float one = 1, zero = 0;
  ASSERT_EQ(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 2, &one, da, CUDA_R_16F, 2, db, CUDA_R_16F, 2, &zero,
                         dc, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  float c[4];
  ASSERT_EQ(cudaMemcpy(c, dc, 16, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(c[0], 19);  // column 0: (19, 43)
  EXPECT_EQ(c[1], 43);
  EXPECT_EQ(c[2], 22);
  EXPECT_EQ(c[3], 50);
  // lda smaller than the stored rows is refused, as cuBLAS does.
  EXPECT_EQ(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 2, &one, da, CUDA_R_16F, 1, db, CUDA_R_16F, 2, &zero,
                         dc, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDestroy(handle), CUBLAS_STATUS_SUCCESS);
  (void)cudaFree(da);
  (void)cudaFree(db);
  (void)cudaFree(dc);
}

TEST(CudaSim, BytePermSelectsBytesOfBothWords) {
  // Bytes 0-3 come from x, 4-7 from y; selector 0x5410 picks 0, 1, 4, 5.
  EXPECT_EQ(__byte_perm(0x03020100u, 0x07060504u, 0x5410u), 0x05040100u);
  EXPECT_EQ(__byte_perm(0x03020100u, 0x07060504u, 0x0123u), 0x00010203u);
}

}  // namespace
