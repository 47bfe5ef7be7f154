// logit_bias: adds a fixed bias to the logits of listed token ids
// (e.g. -100 to ban a token, +5 to favour one).
#include <charconv>
#include <string>
#include <unordered_map>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kBias = sdk::typed_param(
    "bias", TESSERA_PARAM_INT_MAP, "{}", "map of token id to the number added to its logit, e.g. {2: -100}");
const tessera_param_spec* const kParams[] = {&kBias};

class LogitBias final : public Sampler {
 public:
  LogitBias(const Params& params, const SamplerContext& context) {
    for (const auto& [key, value] : params.get_number_map(kBias)) {
      int32_t id = -1;
      const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
      if (ec != std::errc() || end != key.data() + key.size() || id < 0 ||
          (context.vocab_size > 0 && id >= context.vocab_size))
        throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE,
                         params.where(kBias.name) + "'bias' key '" + key + "' is not a token id (0 <= id < " +
                             std::to_string(context.vocab_size) + ")");
      bias_[id] += static_cast<float>(value);
    }
  }

  void apply(tessera_candidates& c) override {
    if (bias_.empty()) return;
    for_each_listed(c, bias_, [](Candidate& x, float bias) { x.logit += bias; });
    logits_changed(c, /*order_kept=*/false);
  }

 private:
  std::unordered_map<int32_t, float> bias_;
};

const tessera_sampler_interface kInterface = sampler_interface<LogitBias>(0);
const tessera_plugin_descriptor kDescriptor =
    sampler_descriptor("logit_bias", "add a fixed bias to the logits of chosen token ids", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
