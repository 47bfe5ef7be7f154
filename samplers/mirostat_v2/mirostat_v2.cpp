// mirostat_v2: keeps the candidates whose surprise -log2 p is at most mu,
// draws from them renormalized, and steers mu towards the target surprise
// tau in accept(). Selects the token.
#include <cmath>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/mirostat_state.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec* const kParams[] = {&kTauParam, &kEtaParam, &kSeedParam};

class MirostatV2 final : public Sampler {
 public:
  MirostatV2(const Params& params, const SamplerContext&) : state_(params) {}

  void apply(tessera_candidates& c) override {
    require_candidates(c, "mirostat_v2");
    softmax(c);
    // -log2 p <= mu  <=>  p >= 2^-mu
    const float min_p = static_cast<float>(std::exp2(-state_.mu()));
    std::size_t passing = 0;
    for (const Candidate& x : items(c)) passing += x.p >= min_p ? 1 : 0;
    if (passing == 0) {
      truncate(c, sort_top(c, 1));  // keep the most likely token
      c.sorted = 1;
    } else {
      keep_if(c, [&](const Candidate& x) { return x.p >= min_p; });
    }
    state_.select(c);
  }

  void accept(int32_t token) override { state_.accept(token); }
  void reset() override { state_.reset(); }

 private:
  MirostatState state_;
};

const tessera_sampler_interface kInterface = sampler_interface<MirostatV2>(TESSERA_SAMPLER_SELECTS);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "mirostat_v2", "mirostat 2.0: adaptive truncation to a target surprise tau, then a seeded draw", kParams,
    &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
