// temperature: divides the logits by t; with dynamic temperature the
// divisor moves within [t - range, t + range] with the normalized entropy of
// the distribution (flat distributions get a hotter temperature).
#include <algorithm>
#include <cmath>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kT = sdk::float_param(
    "t", 0, kUnbounded, "0.8", "divide logits by t; < 1 sharpens, > 1 flattens, 0 keeps only the most likely token");
const tessera_param_spec kRange = sdk::float_param(
    "dynatemp_range", 0, kUnbounded, "0", "dynamic temperature: t varies within [t - range, t + range]; 0 disables");
const tessera_param_spec kExponent = sdk::float_param(
    "dynatemp_exponent", 0, kUnbounded, "1", "dynamic temperature: exponent applied to the normalized entropy",
    TESSERA_PARAM_MIN_EXCLUSIVE);
const tessera_param_spec* const kParams[] = {&kT, &kRange, &kExponent};

class Temperature final : public Sampler {
 public:
  Temperature(const Params& params, const SamplerContext&)
      : t_(params.get_float(kT)), range_(params.get_float(kRange)), exponent_(params.get_float(kExponent)) {}

  void apply(tessera_candidates& c) override {
    if (c.size == 0) return;
    const double t = range_ > 0 ? dynamic_temperature(c) : t_;
    if (t <= 0) {
      // The limit t -> 0 is the argmax: keep only that candidate.
      const std::size_t best = argmax(c);
      c.data[0] = c.data[best];
      truncate(c, 1);
      c.sorted = 1;
      return;
    }
    const float inv = static_cast<float>(1.0 / t);
    for (Candidate& x : items(c)) x.logit *= inv;
    logits_changed(c, /*order_kept=*/true);
  }

 private:
  // min_t + (max_t - min_t) * (H / log n)^exponent, H the entropy in nats.
  double dynamic_temperature(tessera_candidates& c) const {
    if (c.size <= 1) return t_;
    const double min_t = std::max(0.0, t_ - range_), max_t = t_ + range_;
    if (!c.normalized) softmax(c);
    double entropy = 0;
    for (const Candidate& x : items(c))
      if (x.p > 0) entropy -= x.p * std::log(static_cast<double>(x.p));
    const double normalized = entropy / std::log(static_cast<double>(c.size));
    return min_t + (max_t - min_t) * std::pow(normalized, exponent_);
  }

  double t_, range_, exponent_;
};

const tessera_sampler_interface kInterface = sampler_interface<Temperature>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "temperature", "scale logits by 1/t, optionally with an entropy-driven dynamic temperature", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
