// Runs a llama-architecture model on one or more compute backends: places
// layers on backends (the pipeline's layer ranges), uploads weights in their
// stored (quantized) layout, keeps the KV cache, and evaluates batches of
// tokens as graphs of tessera ops. Ops a backend cannot do fall back to the
// first backend in the list that can, with a log line.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/compute_backend.hpp"
#include "tessera/core/graph_executor.hpp"
#include "tessera/core/kernel_binding.hpp"
#include "tessera/core/layer_range.hpp"
#include "tessera/core/model_params.hpp"

namespace tessera {

class ModelFile;

// A kernel plugin instance for (op, dtype) on every backend named `backend`.
struct KernelRequest {
  std::string backend;
  int32_t op = 0;
  int32_t dtype = 0;
  KernelInstance* kernel = nullptr;
};

struct RuntimeOptions {
  int64_t context_size = 4096;
  int64_t batch = 512;
  std::string kv_type = "f16";
  std::optional<double> rope_freq_base;   // override the model's
  std::optional<double> rope_freq_scale;
  std::vector<KernelRequest> kernels;     // single-op overrides (pipeline `kernels:`)
  // Backends that can (cpu) use the weights in place in the memory-mapped
  // model file instead of copying them (pipeline `model.mmap`, CLI --no-mmap).
  bool mmap = true;
};

struct BackendPlacement {
  ComputeBackend* backend;
  std::optional<LayerRange> layers;  // nullopt: the layers nobody else takes
};


class LlamaRuntime {
 public:
  // (bytes uploaded so far, total bytes)
  using LoadProgress = std::function<void(uint64_t, uint64_t)>;

  LlamaRuntime(const ModelFile& model, std::vector<BackendPlacement> placements, RuntimeOptions options,
               const LoadProgress& progress = {});

  // Appends `tokens` to the context and returns the logits of the last one
  // (vocab_size floats), or of every token when `all_logits` (row-major,
  // tokens.size() x vocab_size). Processes at most `batch` tokens per graph.
  // Throws tessera::Error when the context would overflow.
  std::vector<float> evaluate(std::span<const int32_t> tokens, bool all_logits = false);
  // Forgets the context (the KV cache is reused).
  void reset() { n_past_ = 0; }
  // Drops the oldest `n` positions after the first `keep`, for context shift.
  int64_t n_past() const { return n_past_; }
  int64_t context_size() const { return options_.context_size; }
  const LlamaHyperParams& hparams() const { return hp_; }
  // Which backend runs layer `l` (for logs and `tessera run`).
  const std::string& layer_backend(int64_t layer) const;
  uint64_t weight_bytes(std::size_t backend) const { return weight_bytes_.at(backend); }
  // Of those, the bytes used in place in the mapped model file (not copied).
  uint64_t mapped_weight_bytes(std::size_t backend) const { return mapped_weight_bytes_.at(backend); }

 private:
  struct Placed {
    int backend;
    tessera_tensor tensor;
  };
  struct Layer {
    Placed attn_norm, wq, wk, wv, wo, ffn_norm, gate, up, down;
    int backend;
    tessera_buffer* k_cache;
    tessera_buffer* v_cache;
  };

  void assign_layers(const std::vector<BackendPlacement>& placements);
  void check_memory(const ModelFile& model) const;
  // Hands `use` a mapped tensor in 64 MiB slices, each after a read-ahead
  // hint, and moves the progress bar after each (a GPU upload of gigabytes,
  // or paging in a tensor used in place).
  void load_mapped(const void* mapped, uint64_t size, const LoadProgress& progress,
                   const std::function<void(uint64_t offset, uint64_t n)>& use);
  Placed place(const ModelFile& model, const std::string& name, int32_t op, int wanted, const LoadProgress& progress);
  int backend_for(int32_t op, int32_t dtype, int wanted) const;
  bool can_run(int backend, int32_t op, int32_t dtype) const;
  std::vector<float> evaluate_batch(std::span<const int32_t> tokens, bool all_logits);

  LlamaHyperParams hp_;
  RuntimeOptions options_;
  std::vector<ComputeBackend*> backends_;
  std::vector<int> layer_backend_;
  std::vector<uint64_t> weight_bytes_;
  std::vector<uint64_t> mapped_weight_bytes_;
  std::map<std::pair<std::string, int>, Placed> placed_;
  uint64_t uploaded_ = 0, total_upload_ = 0;
  std::vector<uint8_t> upload_staging_;  // tensors the format plugin cannot map, during the load
  mutable std::map<std::string, bool> fallback_logged_;
  Placed token_embd_, output_norm_, output_;
  std::vector<Layer> layers_;
  int32_t kv_dtype_ = TESSERA_DTYPE_F16;
  int64_t n_past_ = 0;
  std::vector<KernelBinding> bindings_;
  GraphExecutor executor_;
};

}  // namespace tessera
