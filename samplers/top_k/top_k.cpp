// top_k: keeps the k candidates with the highest logits, found by partial
// selection (never a full sort of the vocabulary).
#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kK =
    sdk::int_param("k", 0, kUnbounded, "40", "keep the k most likely tokens; 0 keeps all");
const tessera_param_spec* const kParams[] = {&kK};

class TopK final : public Sampler {
 public:
  TopK(const Params& params, const SamplerContext&) : k_(static_cast<std::size_t>(params.get_int(kK))) {}
  void apply(tessera_candidates& c) override {
    if (k_ == 0 || k_ >= c.size) return;
    truncate(c, sort_top(c, k_));
    c.sorted = 1;  // the kept prefix is in order
  }

 private:
  std::size_t k_;
};

const tessera_sampler_interface kInterface = sampler_interface<TopK>(0);
const tessera_plugin_descriptor kDescriptor =
    sampler_descriptor("top_k", "keep the k tokens with the highest logits", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
