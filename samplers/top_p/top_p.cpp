// top_p (nucleus): keeps the smallest set of most likely candidates whose
// probabilities sum to at least p. The list is ordered only as far as the
// nucleus reaches (growing partial selections), not fully sorted.
#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kP = sdk::float_param(
    "p", 0, 1, "0.95", "keep the most likely tokens until their probabilities sum to at least p; 1 keeps all");
const tessera_param_spec* const kParams[] = {&kP, &kMinKeepParam};

class TopP final : public Sampler {
 public:
  TopP(const Params& params, const SamplerContext&)
      : p_(params.get_float(kP)), min_keep_(static_cast<std::size_t>(params.get_int(kMinKeepParam))) {}

  void apply(tessera_candidates& c) override {
    if (p_ >= 1 || c.size <= min_keep_) return;
    softmax(c);
    // The nucleus is usually a few dozen tokens: order a prefix, and grow it
    // only when the prefix's mass falls short of p.
    for (std::size_t prefix = 64;; prefix *= 8) {
      const std::size_t ordered = sort_top(c, prefix);
      double sum = 0;
      for (std::size_t i = 0; i < ordered; ++i) {
        sum += c.data[i].p;
        if (sum >= p_ && i + 1 >= min_keep_) {
          truncate(c, i + 1);
          c.sorted = 1;
          return;
        }
      }
      if (ordered == c.size) return;  // fully sorted, nothing to cut
    }
  }

 private:
  double p_;
  std::size_t min_keep_;
};

const tessera_sampler_interface kInterface = sampler_interface<TopP>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "top_p", "nucleus sampling: keep the most likely tokens whose probabilities sum to p", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
