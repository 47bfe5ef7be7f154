// Definitions of the opaque ABI handles tessera_backend and tessera_buffer
// for the cuda plugin: one stream, one cuBLAS handle and the scratch of one
// GPU per backend.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include "graph_cache.hpp"
#include "kernels/launch.hpp"
#include "tessera/compute.h"
#include "tessera/cpp/plugin.hpp"
#include "workspace.hpp"

namespace tessera::cuda {

// Tags checked on every handle the host passes back, so a handle of another
// plugin (or a freed one) is reported instead of dereferenced blindly.
constexpr uint64_t kBackendMagic = 0x7465737363756442ull;  // "tesscudB"
constexpr uint64_t kBufferMagic = 0x7465737363756446ull;   // "tesscudF"

// The per-node dynamic values (NodeDyn) of the graph being executed: a
// device array kernels read, filled from pinned host memory before each
// launch. `uploaded` guards the pinned copy until the previous upload is done.
struct DynamicParams {
  NodeDyn* device = nullptr;
  NodeDyn* host = nullptr;  // pinned
  uint64_t capacity = 0;    // nodes
  cudaEvent_t uploaded = nullptr;
};

}  // namespace tessera::cuda

struct tessera_backend {
  uint64_t magic = tessera::cuda::kBackendMagic;
  int32_t device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  std::unique_ptr<tessera::cuda::Workspace> mul_mat_scratch;
  std::unique_ptr<tessera::cuda::Workspace> attention_scratch;
  tessera::cuda::DynamicParams params;
  int32_t* error_word = nullptr;  // device: set by kernels that find bad input data (get_rows ids)
  bool cuda_graphs = true;
  bool sync_every_op = false;  // debugging: wait after each launch, so a fault names its node
  tessera::cuda::GraphCache graphs;
  tessera::sdk::Log log;
  // Its live buffers: freeing the backend first detaches them (backend =
  // NULL), so a later buffer_free or read names the problem instead of
  // touching a freed backend.
  std::unordered_set<tessera_buffer*> buffers;
  ~tessera_backend();
};

struct tessera_buffer {
  uint64_t magic = tessera::cuda::kBufferMagic;
  tessera_backend* backend = nullptr;
  int32_t device = 0;
  uint8_t* data = nullptr;  // device memory (cudaMalloc: 256-byte aligned)
  uint64_t size = 0;        // as requested
  // GPTQ tensors (offset, total_bytes) whose layout passed quant::gptq_check;
  // a write to the buffer clears it.
  std::vector<std::pair<uint64_t, uint64_t>> gptq_checked;
};

namespace tessera::cuda {

// Creates a backend on `device` (stream, cuBLAS handle, scratch).
std::unique_ptr<tessera_backend> make_backend(int32_t device, bool cuda_graphs, bool sync_every_op,
                                              const sdk::Log& log);

// Grows the dynamic-parameter arrays to `nodes` entries (drops captured graphs that point at the old array).
void reserve_params(tessera_backend& backend, uint64_t nodes);

// Throws sdk::Error(INVALID_ARGUMENT) naming `what` for a NULL or foreign handle.
tessera_backend& checked(tessera_backend* backend, const char* what);
const tessera_backend& checked(const tessera_backend* backend, const char* what);
tessera_buffer& checked(tessera_buffer* buffer, const char* what);

// Waits for the backend's stream and reports errors kernels flagged.
void synchronize(tessera_backend& backend);

}  // namespace tessera::cuda
