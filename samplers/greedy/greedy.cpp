// greedy: selects the candidate with the highest logit (argmax).
#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

class Greedy final : public Sampler {
 public:
  Greedy(const Params&, const SamplerContext&) {}
  void apply(tessera_candidates& c) override {
    require_candidates(c, "greedy");
    c.selected = static_cast<int64_t>(argmax(c));
  }
};

const tessera_sampler_interface kInterface = sampler_interface<Greedy>(TESSERA_SAMPLER_SELECTS);
const tessera_plugin_descriptor kDescriptor =
    sampler_descriptor("greedy", "select the most likely token (argmax; ties go to the lower id)", {}, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
