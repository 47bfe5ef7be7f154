// Test harness: sampler plugins loaded from the build's plugin directory by
// tessera::PluginRegistry, instances created from YAML text through each
// plugin's C interface, and candidate lists owned by the test.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/core/config_tree.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/sampler_chain.hpp"
#include "tessera/sampler.h"

namespace tessera::test {

// Every plugin this build produced, discovered once per test binary.
PluginRegistry& sampler_registry();

// Probabilities of `logits` by softmax, computed in the test in long double.
std::vector<double> softmax_of(const std::vector<double>& logits);

// A vocabulary of token texts for samplers that read them (DRY).
struct Vocab {
  std::vector<std::string> texts;
  tessera_sampler_context context() const;
};

// A test-owned candidate list with ids 0..n-1 in id order, as the host
// builds it.
class CandidateList {
 public:
  explicit CandidateList(const std::vector<float>& logits);
  tessera_candidates* get() { return &list_; }
  const tessera_candidates& view() const { return list_; }
  std::vector<int32_t> ids() const;  // of the current size, in list order
  float logit_of(int32_t id) const;  // NaN when the id was removed
  float p_of(int32_t id) const;

 private:
  std::vector<tessera_token_candidate> data_;
  tessera_candidates list_{};
};

// One sampler instance; `yaml` is its whole entry, e.g. "{name: top_k, k: 3}".
class SamplerInstance {
 public:
  explicit SamplerInstance(const std::string& yaml, int32_t vocab_size = 0, const Vocab* vocab = nullptr);
  ~SamplerInstance();
  SamplerInstance(const SamplerInstance&) = delete;
  SamplerInstance& operator=(const SamplerInstance&) = delete;

  // Applies and fails the test with the plugin's message on an error status.
  void apply(CandidateList& list);
  tessera_status try_apply(CandidateList& list, std::string* message);
  void accept(int32_t token);
  void reset();
  const Plugin& plugin() const { return *plugin_; }

 private:
  ConfigTree tree_;
  Plugin* plugin_ = nullptr;
  tessera_sampler* instance_ = nullptr;
};

// Creation failure message for `yaml` (empty when creation succeeded).
std::string create_error(const std::string& yaml, int32_t vocab_size = 0);

// A sampler chain built from the YAML text of a `sampling:` list.
class ChainFromYaml {
 public:
  ChainFromYaml(const std::string& yaml_list, int32_t vocab_size);
  SamplerChain& operator*() { return *chain_; }
  SamplerChain* operator->() { return chain_.get(); }

 private:
  ConfigTree tree_;
  std::vector<SamplerEntry> entries_;
  std::unique_ptr<SamplerChain> chain_;
};

}  // namespace tessera::test
