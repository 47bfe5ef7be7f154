// A validated pipeline brought to life: its compute backends, the model file,
// the runtime holding weights and KV cache, the tokenizer and the sampler
// chain. What `tessera run`, `bench` and `perplexity` work on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/core/compute_backend.hpp"
#include "tessera/core/kernel_binding.hpp"
#include "tessera/core/llama_runtime.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/sampler_chain.hpp"
#include "tessera/core/tokenizer.hpp"

namespace tessera {

class PluginRegistry;

class Session {
 public:
  Session(const Pipeline& pipeline, PluginRegistry& registry, const LlamaRuntime::LoadProgress& progress = {});
  ~Session();

  const ModelFile& model() const { return *model_; }
  LlamaRuntime& runtime() { return *runtime_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // NULL when the pipeline has no sampling chain (greedy decoding).
  SamplerChain* sampler() { return sampler_.get(); }
  const std::vector<std::unique_ptr<ComputeBackend>>& backends() const { return backends_; }
  const std::vector<std::unique_ptr<KernelInstance>>& kernels() const { return kernels_; }

 private:
  // Declaration order is destruction order reversed: the sampler and runtime
  // go before the backends that hold their buffers, the model file last.
  std::unique_ptr<ModelFile> model_;
  std::vector<std::unique_ptr<ComputeBackend>> backends_;
  std::vector<std::unique_ptr<KernelInstance>> kernels_;
  std::unique_ptr<LlamaRuntime> runtime_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<std::string> sampler_texts_;  // decoded token texts the samplers read
  std::unique_ptr<SamplerChain> sampler_;
};

}  // namespace tessera
