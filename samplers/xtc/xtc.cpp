// xtc (exclude top choices): with chance `probability`, removes every
// candidate with p >= threshold except the least likely of them, steering
// away from the most predictable continuations while keeping a viable one.
#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/rng.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kProbability =
    sdk::float_param("probability", 0, 1, "0.5", "chance that the exclusion happens at a given token; 0 disables");
const tessera_param_spec kThreshold = sdk::float_param(
    "threshold", 0, 1, "0.1", "tokens with p >= threshold are the top choices; above 0.5 nothing is ever excluded");
const tessera_param_spec* const kParams[] = {&kProbability, &kThreshold, &kMinKeepParam, &kSeedParam};

class Xtc final : public Sampler {
 public:
  Xtc(const Params& params, const SamplerContext&)
      : probability_(params.get_float(kProbability)),
        threshold_(params.get_float(kThreshold)),
        min_keep_(static_cast<std::size_t>(params.get_int(kMinKeepParam))),
        rng_(params.get_int(kSeedParam)) {}

  void apply(tessera_candidates& c) override {
    if (probability_ <= 0 || threshold_ > 0.5 || c.size < 2) return;
    if (rng_.uniform() >= probability_) return;
    softmax(c);
    std::size_t top = 0, least = 0;  // count of top choices, index of the least likely one
    for (std::size_t i = 0; i < c.size; ++i) {
      if (c.data[i].p < threshold_) continue;
      if (top == 0 || before(c.data[least], c.data[i])) least = i;
      ++top;
    }
    if (top < 2 || c.size - (top - 1) < min_keep_) return;
    const int32_t spared = c.data[least].id;
    keep_if(c, [&](const Candidate& x) { return x.p < threshold_ || x.id == spared; });
  }

  void reset() override { rng_.reset(); }

 private:
  double probability_, threshold_;
  std::size_t min_keep_;
  Rng rng_;
};

const tessera_sampler_interface kInterface = sampler_interface<Xtc>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "xtc", "exclude top choices: sometimes drop all tokens above a threshold but the least likely", kParams,
    &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
