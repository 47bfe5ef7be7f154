#include "backend.hpp"

#include <string>

#include "cuda_check.hpp"

tessera_backend::~tessera_backend() {
  int previous = device;
  (void)cudaGetDevice(&previous);
  (void)cudaSetDevice(device);
  if (stream != nullptr) (void)cudaStreamSynchronize(stream);
  for (tessera_buffer* buffer : buffers) buffer->backend = nullptr;
  graphs.reset();
  mul_mat_scratch.reset();
  attention_scratch.reset();
  if (params.device != nullptr) (void)cudaFree(params.device);
  if (params.host != nullptr) (void)cudaFreeHost(params.host);
  if (params.uploaded != nullptr) (void)cudaEventDestroy(params.uploaded);
  if (error_word != nullptr) (void)cudaFree(error_word);
  if (cublas != nullptr) (void)cublasDestroy(cublas);
  if (stream != nullptr) (void)cudaStreamDestroy(stream);
  (void)cudaSetDevice(previous);
}

namespace tessera::cuda {

std::unique_ptr<tessera_backend> make_backend(int32_t device, bool cuda_graphs, bool sync_every_op,
                                              const sdk::Log& log) {
  DeviceGuard guard(device, "backend_create");
  auto b = std::make_unique<tessera_backend>();
  b->device = device;
  b->cuda_graphs = cuda_graphs && !sync_every_op;  // a captured graph cannot wait between kernels
  b->sync_every_op = sync_every_op;
  b->log = log;
  // Non-blocking: the legacy default stream never serialises with it; every
  // copy in this plugin is issued on this stream explicitly.
  cuda_check(cudaStreamCreateWithFlags(&b->stream, cudaStreamNonBlocking), "backend_create: cudaStreamCreate");
  cublas_check(cublasCreate(&b->cublas), "backend_create: cublasCreate");
  cublas_check(cublasSetStream(b->cublas, b->stream), "backend_create: cublasSetStream");
  b->mul_mat_scratch = std::make_unique<Workspace>(device);
  b->attention_scratch = std::make_unique<Workspace>(device);
  cuda_check(cudaEventCreateWithFlags(&b->params.uploaded, cudaEventDisableTiming), "backend_create: cudaEventCreate");
  cuda_check(cudaMalloc(reinterpret_cast<void**>(&b->error_word), sizeof(int32_t)), "backend_create: cudaMalloc");
  cuda_check(cudaMemsetAsync(b->error_word, 0, sizeof(int32_t), b->stream), "backend_create: cudaMemsetAsync");
  cuda_check(cudaStreamSynchronize(b->stream), "backend_create: cudaStreamSynchronize");
  return b;
}

void reserve_params(tessera_backend& backend, uint64_t nodes) {
  DynamicParams& p = backend.params;
  if (nodes <= p.capacity && p.device != nullptr) return;
  const uint64_t want = nodes < 256 ? 256 : nodes + nodes / 2;
  // A captured graph reads the old array: let queued work finish, then drop
  // the graphs before the array goes.
  cuda_check(cudaStreamSynchronize(backend.stream), "graph_execute: cudaStreamSynchronize");
  backend.graphs.reset();
  if (p.device != nullptr) cuda_check(cudaFree(p.device), "graph_execute: cudaFree");
  if (p.host != nullptr) cuda_check(cudaFreeHost(p.host), "graph_execute: cudaFreeHost");
  p.device = nullptr;
  p.host = nullptr;
  p.capacity = 0;
  cuda_check(cudaMalloc(reinterpret_cast<void**>(&p.device), want * sizeof(NodeDyn)),
             "graph_execute: cudaMalloc of " + std::to_string(want) + " node parameters");
  cuda_check(cudaMallocHost(reinterpret_cast<void**>(&p.host), want * sizeof(NodeDyn)),
             "graph_execute: cudaMallocHost of " + std::to_string(want) + " node parameters");
  p.capacity = want;
}

const tessera_backend& checked(const tessera_backend* backend, const char* what) {
  if (backend == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(what) + ": backend is NULL");
  if (backend->magic != kBackendMagic)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     std::string(what) + ": not a backend of the cuda plugin (freed, or from another plugin)");
  return *backend;
}

tessera_backend& checked(tessera_backend* backend, const char* what) {
  return const_cast<tessera_backend&>(checked(static_cast<const tessera_backend*>(backend), what));
}

tessera_buffer& checked(tessera_buffer* buffer, const char* what) {
  if (buffer == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(what) + ": buffer is NULL");
  if (buffer->magic != kBufferMagic)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     std::string(what) + ": not a buffer of the cuda plugin (freed, or from another plugin)");
  return *buffer;
}

void synchronize(tessera_backend& backend) {
  DeviceGuard guard(backend.device, "synchronize");
  cuda_check(cudaStreamSynchronize(backend.stream),
             "cuda: synchronize: a kernel failed (sync_every_op: true in the compute entry names which)");
  int32_t flagged = 0;
  cuda_check(cudaMemcpyAsync(&flagged, backend.error_word, sizeof flagged, cudaMemcpyDeviceToHost, backend.stream),
             "synchronize: reading the error flag");
  cuda_check(cudaStreamSynchronize(backend.stream), "synchronize: cudaStreamSynchronize");
  if (flagged != 0) {
    cuda_check(cudaMemsetAsync(backend.error_word, 0, sizeof(int32_t), backend.stream), "synchronize: cudaMemsetAsync");
    cuda_check(cudaStreamSynchronize(backend.stream), "synchronize: cudaStreamSynchronize");
    throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, "cuda: get_rows: row id at index " + std::to_string(flagged - 1) +
                                                   " is outside the table (that row was written as zeros)");
  }
}

}  // namespace tessera::cuda
