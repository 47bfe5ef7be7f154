// The pipeline's sampler chain: sampler plugin instances applied in order to
// the logits of one step, ending in one that selects the token.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/pipeline.hpp"
#include "tessera/sampler.h"

namespace tessera {

class Plugin;
class PluginRegistry;

class SamplerChain {
 public:
  // Instantiates every sampler of `entries` (already validated). Throws
  // tessera::Error naming the sampler and its YAML location on failure.
  SamplerChain(const std::vector<SamplerEntry>& entries, PluginRegistry& registry,
               const tessera_sampler_context& context);
  ~SamplerChain();
  SamplerChain(const SamplerChain&) = delete;
  SamplerChain& operator=(const SamplerChain&) = delete;

  // Runs the chain over `logits` (one per vocabulary entry) and returns the
  // chosen token; every sampler is then told via accept().
  int32_t sample(std::span<const float> logits);
  void accept(int32_t token);
  void reset();

  std::size_t size() const { return stages_.size(); }
  // Candidates left after the last sample() call, for inspection and tests.
  const std::vector<tessera_token_candidate>& last_candidates() const { return candidates_; }

 private:
  struct Stage {
    const Plugin* plugin;
    tessera_sampler* instance;
    std::string where;
  };
  std::vector<Stage> stages_;
  std::vector<tessera_token_candidate> candidates_;
};

}  // namespace tessera
