// penalties: repetition, frequency and presence penalties over the last
// last_n accepted tokens (prompt included), as in llama.cpp / the OpenAI API:
// for a token seen `count` > 0 times,
//   logit = logit > 0 ? logit / repeat_penalty : logit * repeat_penalty
//   logit -= count * frequency_penalty + presence_penalty
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kLastN =
    sdk::int_param("last_n", 0, kUnbounded, "64", "how many of the latest tokens are penalized; 0 disables");
const tessera_param_spec kRepeat = sdk::float_param(
    "repeat_penalty", 0, kUnbounded, "1", "divide positive / multiply negative logits of seen tokens; 1 disables",
    TESSERA_PARAM_MIN_EXCLUSIVE);
const tessera_param_spec kFrequency = sdk::float_param(
    "frequency_penalty", -2, 2, "0", "subtract count * frequency_penalty from the logit of a seen token");
const tessera_param_spec kPresence = sdk::float_param(
    "presence_penalty", -2, 2, "0", "subtract presence_penalty once from the logit of a seen token");
const tessera_param_spec* const kParams[] = {&kLastN, &kRepeat, &kFrequency, &kPresence};

class Penalties final : public Sampler {
 public:
  Penalties(const Params& params, const SamplerContext&)
      : last_n_(static_cast<std::size_t>(params.get_int(kLastN))),
        repeat_(static_cast<float>(params.get_float(kRepeat))),
        frequency_(static_cast<float>(params.get_float(kFrequency))),
        presence_(static_cast<float>(params.get_float(kPresence))) {}

  void apply(tessera_candidates& c) override {
    if (counts_.empty() || (repeat_ == 1.0f && frequency_ == 0.0f && presence_ == 0.0f)) return;
    for_each_listed(c, counts_, [&](Candidate& x, int32_t count) {
      x.logit = x.logit > 0 ? x.logit / repeat_ : x.logit * repeat_;
      x.logit -= static_cast<float>(count) * frequency_ + presence_;
    });
    logits_changed(c, /*order_kept=*/false);
  }

  void accept(int32_t token) override {
    if (last_n_ == 0) return;
    history_.push_back(token);
    ++counts_[token];
    if (history_.size() > last_n_) {
      const int32_t old = history_.front();
      history_.pop_front();
      if (--counts_[old] == 0) counts_.erase(old);
    }
  }

  void reset() override {
    history_.clear();
    counts_.clear();
  }

 private:
  std::size_t last_n_;
  float repeat_, frequency_, presence_;
  std::deque<int32_t> history_;                  // the window, oldest first
  std::unordered_map<int32_t, int32_t> counts_;  // occurrences in the window
};

const tessera_sampler_interface kInterface = sampler_interface<Penalties>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "penalties", "repetition, frequency and presence penalties over the last N tokens", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
