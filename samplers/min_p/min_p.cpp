// min_p: keeps the candidates whose probability is at least p times that of
// the most likely one. p_i >= p * p_max is logit_i >= logit_max + ln p, so
// no softmax and no sort are needed.
#include <cmath>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kP = sdk::float_param(
    "p", 0, 1, "0.05", "keep tokens with probability >= p * (probability of the most likely token); 0 keeps all");
const tessera_param_spec* const kParams[] = {&kP, &kMinKeepParam};

class MinP final : public Sampler {
 public:
  MinP(const Params& params, const SamplerContext&)
      : p_(params.get_float(kP)), min_keep_(static_cast<std::size_t>(params.get_int(kMinKeepParam))) {}

  void apply(tessera_candidates& c) override {
    if (p_ <= 0 || c.size <= min_keep_) return;
    const float threshold = static_cast<float>(c.data[argmax(c)].logit + std::log(p_));
    std::size_t passing = 0;
    for (const Candidate& x : items(c)) passing += x.logit >= threshold ? 1 : 0;
    if (passing >= min_keep_) {
      keep_if(c, [&](const Candidate& x) { return x.logit >= threshold; });
    } else {
      truncate(c, sort_top(c, min_keep_));
      c.sorted = 1;
    }
  }

 private:
  double p_;
  std::size_t min_keep_;
};

const tessera_sampler_interface kInterface = sampler_interface<MinP>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "min_p", "keep tokens at least p times as likely as the most likely one", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
