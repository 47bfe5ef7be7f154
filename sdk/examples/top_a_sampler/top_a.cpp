// top_a: a third-party sampler plugin, as an example of the tessera SDK.
//
// Top-a sampling drops every candidate whose probability is below
// a * p_max^2, where p_max is the probability of the most likely candidate:
// a confident distribution is cut hard, a flat one is left alone.
//
// It uses only <tessera/...> headers from the installed SDK and exports one
// symbol, tessera_plugin_init.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <tessera/cpp/plugin.hpp>
#include <tessera/tessera.h>

namespace {

struct TopA {
  double a = 0.2;
};

const tessera_host_api* g_host = nullptr;

tessera_status initialize(const tessera_host_api* host, void** state, tessera_error*) {
  g_host = host;
  *state = nullptr;
  return TESSERA_OK;
}

void shutdown(void*) { g_host = nullptr; }

tessera_status create(void*, const tessera_config* params, const tessera_sampler_context*, tessera_sampler** out,
                      tessera_error* err) {
  return tessera::sdk::guarded(err, [&] {
    auto sampler = std::make_unique<TopA>();
    tessera::sdk::Config config(g_host, params);
    sampler->a = config.get_double("a").value_or(sampler->a);
    *out = reinterpret_cast<tessera_sampler*>(sampler.release());
  });
}

tessera_status apply(tessera_sampler* handle, tessera_candidates* candidates, tessera_error* err) {
  return tessera::sdk::guarded(err, [&] {
    const TopA& self = *reinterpret_cast<TopA*>(handle);
    tessera_token_candidate* data = candidates->data;
    const uint64_t n = candidates->size;
    if (n == 0) return;
    // Softmax over the current candidates (max-subtracted for stability).
    float max_logit = data[0].logit;
    for (uint64_t i = 1; i < n; ++i) max_logit = std::max(max_logit, data[i].logit);
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(data[i].logit - max_logit));
    const double p_max = 1.0 / sum;  // exp(0) / sum
    const double threshold = self.a * p_max * p_max;
    uint64_t kept = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const double p = std::exp(static_cast<double>(data[i].logit - max_logit)) / sum;
      if (p >= threshold) data[kept++] = data[i];  // keeps the order, so `sorted` stays valid
    }
    candidates->size = kept;
    candidates->normalized = 0;  // probabilities no longer sum to one
    candidates->selected = -1;
  });
}

void accept(tessera_sampler*, int32_t) {}  // stateless
void reset(tessera_sampler*) {}
void free_sampler(tessera_sampler* handle) { delete reinterpret_cast<TopA*>(handle); }

const tessera_param_spec kParamA = tessera::sdk::float_param(
    "a", 0.0, 1.0, "0.2", "drop candidates with p < a * p_max^2 (0 disables)");
const tessera_param_spec* const kParams[] = {&kParamA};

const tessera_sampler_interface kSampler = {sizeof(tessera_sampler_interface), 0, create, apply, accept, reset,
                                            free_sampler};

const tessera_plugin_descriptor kDescriptor = {
    sizeof(tessera_plugin_descriptor),
    TESSERA_ABI_VERSION_MAJOR,
    TESSERA_ABI_VERSION_MINOR,
    TESSERA_KIND_SAMPLER,
    "top_a",
    "1.0.0",
    "top-a sampling: drop candidates below a * p_max^2 (SDK example)",
    1,
    kParams,
    initialize,
    shutdown,
    nullptr,
    nullptr,
    &kSampler,
    nullptr,
    "tessera SDK example",
    "Apache-2.0",
};

}  // namespace

extern "C" TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) { return &kDescriptor; }
