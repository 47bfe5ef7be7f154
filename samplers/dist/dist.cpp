// dist: the final draw, a token drawn from softmax(logits) of the remaining
// candidates with a seeded generator.
#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/draw.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec* const kParams[] = {&kSeedParam};

class Dist final : public Sampler {
 public:
  Dist(const Params& params, const SamplerContext&) : rng_(params.get_int(kSeedParam)) {}
  void apply(tessera_candidates& c) override {
    require_candidates(c, "dist");
    if (!c.normalized) softmax(c);
    c.selected = static_cast<int64_t>(draw(c, rng_));
  }
  void reset() override { rng_.reset(); }

 private:
  Rng rng_;
};

const tessera_sampler_interface kInterface = sampler_interface<Dist>(TESSERA_SAMPLER_SELECTS);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "dist", "draw the token from softmax(logits) of the remaining candidates (seeded)", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
