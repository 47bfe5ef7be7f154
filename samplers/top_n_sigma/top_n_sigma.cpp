// top_n_sigma (Tang et al. 2024): keeps the candidates whose logit is within
// n standard deviations of the maximum logit. Mean and (population)
// standard deviation are taken over the finite logits of the current list.
#include <algorithm>
#include <cmath>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kN = sdk::float_param(
    "n", 0, kUnbounded, "1", "keep tokens with logit >= max_logit - n * stddev(logits)", TESSERA_PARAM_MIN_EXCLUSIVE);
const tessera_param_spec* const kParams[] = {&kN};

class TopNSigma final : public Sampler {
 public:
  TopNSigma(const Params& params, const SamplerContext&) : n_(params.get_float(kN)) {}

  void apply(tessera_candidates& c) override {
    if (c.size <= 1) return;
    double max = -INFINITY, sum = 0;
    std::size_t finite = 0;
    for (const Candidate& x : items(c)) {
      if (!std::isfinite(x.logit)) continue;
      max = std::max(max, static_cast<double>(x.logit));
      sum += x.logit;
      ++finite;
    }
    if (finite == 0) return;
    const double mean = sum / static_cast<double>(finite);
    double squares = 0;
    for (const Candidate& x : items(c))
      if (std::isfinite(x.logit)) squares += (x.logit - mean) * (x.logit - mean);
    const double threshold = max - n_ * std::sqrt(squares / static_cast<double>(finite));
    keep_if(c, [&](const Candidate& x) { return std::isfinite(x.logit) && x.logit >= threshold; });
  }

 private:
  double n_;
};

const tessera_sampler_interface kInterface = sampler_interface<TopNSigma>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "top_n_sigma", "keep tokens whose logit is within n standard deviations of the maximum", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
