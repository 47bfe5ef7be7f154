// typical_p (locally typical sampling, Meister et al. 2022): keeps the
// candidates whose surprise -ln p is closest to the entropy H of the
// distribution, in that order, until their probabilities sum to more than p.
// The result is ordered by typicality, not by logit.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kP = sdk::float_param(
    "p", 0, 1, "1", "keep the most typical tokens until their probabilities sum to more than p; 1 keeps all");
const tessera_param_spec* const kParams[] = {&kP, &kMinKeepParam};

class TypicalP final : public Sampler {
 public:
  TypicalP(const Params& params, const SamplerContext&)
      : p_(params.get_float(kP)), min_keep_(static_cast<std::size_t>(params.get_int(kMinKeepParam))) {}

  void apply(tessera_candidates& c) override {
    if (p_ >= 1 || c.size <= 1) return;
    softmax(c);
    auto list = items(c);
    double entropy = 0;
    for (const Candidate& x : list)
      if (x.p > 0) entropy -= x.p * std::log(static_cast<double>(x.p));

    scored_.clear();
    for (const Candidate& x : list) {
      const double distance = x.p > 0 ? std::abs(-std::log(static_cast<double>(x.p)) - entropy)
                                      : std::numeric_limits<double>::infinity();
      scored_.push_back({distance, x});
    }
    // Typicality needs a total order of all candidates (ties by logit, id).
    std::sort(scored_.begin(), scored_.end(), [](const Scored& a, const Scored& b) {
      return a.distance < b.distance || (a.distance == b.distance && before(a.candidate, b.candidate));
    });
    std::size_t keep = scored_.size();
    double sum = 0;
    for (std::size_t i = 0; i < scored_.size(); ++i) {
      sum += scored_[i].candidate.p;
      if (sum > p_ && i + 1 >= min_keep_) {
        keep = i + 1;
        break;
      }
    }
    for (std::size_t i = 0; i < keep; ++i) list[i] = scored_[i].candidate;
    c.sorted = 0;
    truncate(c, keep);
  }

 private:
  struct Scored {
    double distance;
    Candidate candidate;
  };
  double p_;
  std::size_t min_keep_;
  std::vector<Scored> scored_;  // reused between tokens
};

const tessera_sampler_interface kInterface = sampler_interface<TypicalP>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "typical_p", "locally typical sampling: keep tokens whose surprise is closest to the entropy", kParams,
    &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
