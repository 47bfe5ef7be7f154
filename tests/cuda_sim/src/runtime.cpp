// The CUDA runtime calls of cuda_sim: host memory posing as device memory
// (with the accounting cudaMemGetInfo reports), streams whose work runs when
// enqueued, and graphs recorded by stream capture and replayed in order.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime_state.hpp"
#include "scheduler.hpp"

struct CUstream_st {
  int device = 0;
  bool capturing = false;
  std::vector<cuda_sim::Work> captured;
};
struct CUevent_st {};
struct CUgraph_st {
  std::vector<cuda_sim::Work> work;
};
struct CUgraphExec_st {
  std::vector<cuda_sim::Work> work;
};

namespace cuda_sim {
namespace {

constexpr size_t kDeviceBytes = size_t{16} << 30;  // what each simulated device reports
constexpr size_t kAlignment = 256;                  // cudaMalloc's guarantee

struct Allocation {
  size_t size;
  int device;
};

struct Runtime {
  std::mutex mutex;  // one kernel (and one runtime call) at a time
  std::map<const void*, Allocation> allocations;
  std::vector<size_t> used;
  std::map<const void*, int> max_dynamic_shared;
  std::vector<CUstream_st> default_streams;
  Runtime() : used(static_cast<size_t>(device_count())), default_streams(static_cast<size_t>(device_count())) {
    for (int d = 0; d < device_count(); ++d) default_streams[static_cast<size_t>(d)].device = d;
  }
};

Runtime& runtime() {
  static Runtime* r = new Runtime;  // never destroyed: plugins may free late at exit
  return *r;
}

thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;
// Streams this thread is capturing: with cudaStreamCaptureModeThreadLocal
// (the plugin's mode) they forbid this thread's synchronous calls.
thread_local int t_capturing = 0;

cudaError_t fail(cudaError_t e) {
  if (e != cudaSuccess) t_last_error = e;
  return e;
}

CUstream_st& stream_of(cudaStream_t s) {
  return s != nullptr ? *s : runtime().default_streams[static_cast<size_t>(t_device)];
}

// The allocation holding [p, p + n), if any.
const Allocation* find_allocation(const void* p, size_t n) {
  auto& allocs = runtime().allocations;
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return nullptr;
  --it;
  const auto* base = static_cast<const std::byte*>(it->first);
  const auto* q = static_cast<const std::byte*>(p);
  if (q < base || q + n > base + it->second.size) return nullptr;
  return &it->second;
}

}  // namespace

cudaError_t enqueue(cudaStream_t s, Work work) {
  CUstream_st& stream = stream_of(s);
  if (stream.capturing) {
    stream.captured.push_back(std::move(work));
    return cudaSuccess;
  }
  return work();
}

int device_count() {
  // Two devices by default, so multi-device pipelines are exercised too.
  static const int count = [] {
    const char* env = std::getenv("CUDA_SIM_DEVICES");
    const int n = env != nullptr ? std::atoi(env) : 2;
    return n < 0 ? 0 : n;
  }();
  return count;
}

void submit(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, KernelBody body) {
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535 || grid.x > 0x7fffffffu) {
    std::fprintf(stderr, "cuda_sim: invalid launch configuration: grid (%u,%u,%u), block (%u,%u,%u)\n", grid.x,
                 grid.y, grid.z, block.x, block.y, block.z);
    fail(cudaErrorInvalidConfiguration);
    return;
  }
  {
    // Above 48 KiB of dynamic shared memory a kernel must opt in first
    // (cudaFuncSetAttribute); the closure hides which kernel this is, so any
    // opt-in of at least this size counts.
    std::lock_guard<std::mutex> lock(runtime().mutex);
    int allowed = 48 * 1024;
    for (const auto& [kernel, bytes] : runtime().max_dynamic_shared) allowed = std::max(allowed, bytes);
    if (shared_bytes > static_cast<size_t>(allowed)) {
      std::fprintf(stderr, "cuda_sim: %zu bytes of dynamic shared memory without the opt-in (at most %d)\n",
                   shared_bytes, allowed);
      fail(cudaErrorInvalidValue);
      return;
    }
  }
  const cudaError_t e = enqueue(stream, [grid, block, shared_bytes, body = std::move(body)]() -> cudaError_t {
    std::lock_guard<std::mutex> lock(runtime().mutex);
    const std::string failure = run_grid(grid, block, shared_bytes, body);
    if (failure.empty()) return cudaSuccess;
    std::fprintf(stderr, "cuda_sim: kernel failed: %s\n", failure.c_str());
    return cudaErrorLaunchFailure;
  });
  fail(e);
}

}  // namespace cuda_sim

using cuda_sim::fail;
using cuda_sim::runtime;

cudaError_t cudaGetLastError() {
  const cudaError_t e = cuda_sim::t_last_error;
  cuda_sim::t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return cuda_sim::t_last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
    default: return "cudaError (cuda_sim)";
  }
}
const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    default: return cudaGetErrorName(error);
  }
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return fail(cudaErrorInvalidValue);
  *count = cuda_sim::device_count();
  if (*count == 0) return fail(cudaErrorNoDevice);
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= cuda_sim::device_count()) return fail(cudaErrorInvalidDevice);
  cuda_sim::t_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return fail(cudaErrorInvalidValue);
  *device = cuda_sim::t_device;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (prop == nullptr) return fail(cudaErrorInvalidValue);
  if (device < 0 || device >= cuda_sim::device_count()) return fail(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "cuda_sim %d (CPU simulation of a compute 9.0 device)", device);
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 132;
  prop->totalGlobalMem = cuda_sim::kDeviceBytes;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->sharedMemPerBlockOptin = 227 * 1024;
  prop->l2CacheSize = 50 * 1024 * 1024;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (value == nullptr) return fail(cudaErrorInvalidValue);
  if (device < 0 || device >= cuda_sim::device_count()) return fail(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMemoryClockRate: *value = 2619000; return cudaSuccess;  // kHz, an H100 SXM's HBM3
    case cudaDevAttrGlobalMemoryBusWidth: *value = 5120; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = 132; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = 227 * 1024; return cudaSuccess;
    default: return fail(cudaErrorInvalidValue);
  }
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(runtime().mutex);
  *total_bytes = cuda_sim::kDeviceBytes;
  *free_bytes = cuda_sim::kDeviceBytes - runtime().used[static_cast<size_t>(cuda_sim::t_device)];
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  std::lock_guard<std::mutex> lock(runtime().mutex);
  if (cuda_sim::t_capturing > 0) return fail(cudaErrorStreamCaptureUnsupported);
  size_t& used = runtime().used[static_cast<size_t>(cuda_sim::t_device)];
  if (size > cuda_sim::kDeviceBytes - used) return fail(cudaErrorMemoryAllocation);
  const size_t rounded = (size + cuda_sim::kAlignment - 1) / cuda_sim::kAlignment * cuda_sim::kAlignment;
  void* p = std::aligned_alloc(cuda_sim::kAlignment, rounded == 0 ? cuda_sim::kAlignment : rounded);
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  // Fresh device memory is not zeroed on a GPU either: make reads of it stand out.
  std::memset(p, 0xA5, rounded == 0 ? cuda_sim::kAlignment : rounded);
  runtime().allocations[p] = cuda_sim::Allocation{size, cuda_sim::t_device};
  used += size;
  *ptr = p;
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  std::lock_guard<std::mutex> lock(runtime().mutex);
  auto it = runtime().allocations.find(ptr);
  if (it == runtime().allocations.end()) return fail(cudaErrorInvalidDevicePointer);
  runtime().used[static_cast<size_t>(it->second.device)] -= it->second.size;
  runtime().allocations.erase(it);
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** ptr, size_t size) {
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  *ptr = std::aligned_alloc(4096, (size + 4095) / 4096 * 4096 + 4096);
  return *ptr != nullptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

namespace {

// A copy's device side must lie inside one allocation.
cudaError_t check_device_range(const void* p, size_t n) {
  std::lock_guard<std::mutex> lock(runtime().mutex);
  if (cuda_sim::find_allocation(p, n) == nullptr) {
    std::fprintf(stderr, "cuda_sim: %zu bytes at %p are not inside one device allocation\n", n, p);
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

cudaError_t check_copy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return cudaErrorInvalidValue;
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice)
    if (cudaError_t e = check_device_range(dst, count)) return e;
  if (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice)
    if (cudaError_t e = check_device_range(src, count)) return e;
  return cudaSuccess;
}

}  // namespace

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (cuda_sim::t_capturing > 0) return fail(cudaErrorStreamCaptureUnsupported);
  if (cudaError_t e = check_copy(dst, src, count, kind)) return fail(e);
  if (count > 0) std::memmove(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (cudaError_t e = check_copy(dst, src, count, kind)) return fail(e);
  return fail(cuda_sim::enqueue(stream, [=]() -> cudaError_t {
    if (count > 0) std::memmove(dst, src, count);
    return cudaSuccess;
  }));
}
cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  if (cuda_sim::t_capturing > 0) return fail(cudaErrorStreamCaptureUnsupported);
  return cudaMemsetAsync(ptr, value, count, nullptr);
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (cudaError_t e = check_device_range(ptr, count)) return fail(e);
  return fail(cuda_sim::enqueue(stream, [=]() -> cudaError_t {
    std::memset(ptr, value, count);
    return cudaSuccess;
  }));
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int /*flags*/) {
  if (stream == nullptr) return fail(cudaErrorInvalidValue);
  *stream = new CUstream_st;
  (*stream)->device = cuda_sim::t_device;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return fail(cudaErrorInvalidValue);
  if (stream->capturing) --cuda_sim::t_capturing;
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (cuda_sim::stream_of(stream).capturing) return fail(cudaErrorStreamCaptureUnsupported);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int /*flags*/) {
  if (event == nullptr) return fail(cudaErrorInvalidValue);
  *event = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t /*stream*/) {
  return event != nullptr ? cudaSuccess : fail(cudaErrorInvalidValue);
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event != nullptr ? cudaSuccess : fail(cudaErrorInvalidValue);
}
cudaError_t cudaStreamWaitEvent(cudaStream_t /*stream*/, cudaEvent_t event, unsigned int /*flags*/) {
  return event != nullptr ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode /*mode*/) {
  // The legacy default stream cannot be captured.
  if (stream == nullptr) return fail(cudaErrorStreamCaptureUnsupported);
  if (stream->capturing) return fail(cudaErrorIllegalState);
  stream->capturing = true;
  stream->captured.clear();
  ++cuda_sim::t_capturing;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  if (stream == nullptr || graph == nullptr) return fail(cudaErrorInvalidValue);
  if (!stream->capturing) return fail(cudaErrorIllegalState);
  stream->capturing = false;
  --cuda_sim::t_capturing;
  *graph = new CUgraph_st{std::move(stream->captured)};
  stream->captured.clear();
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (status == nullptr) return fail(cudaErrorInvalidValue);
  *status = cuda_sim::stream_of(stream).capturing ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long /*flags*/) {
  if (exec == nullptr || graph == nullptr) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->work};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  return fail(cuda_sim::enqueue(stream, [exec]() -> cudaError_t {
    for (const auto& work : exec->work)
      if (cudaError_t e = work()) return e;
    return cudaSuccess;
  }));
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attr, int bytes) {
  // Only the dynamic shared-memory opt-in is modelled.
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (bytes < 0 || bytes > 227 * 1024) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(runtime().mutex);
  runtime().max_dynamic_shared[kernel] = bytes;
  return cudaSuccess;
}
