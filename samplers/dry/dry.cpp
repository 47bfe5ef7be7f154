// dry ("don't repeat yourself", from text-generation-webui / koboldcpp):
// when the latest tokens repeat an earlier run of length L >= allowed_length,
// the token that followed that earlier run would extend the repetition; its
// logit loses multiplier * base^(L - allowed_length). Runs never cross a
// sequence breaker (a token whose text contains one of the breaker strings),
// so ordinary structure such as newlines or "Name:" is not penalized, and a
// breaker is never the penalized token either. Token texts are the decoded
// pieces the host passes ("\n", not "<0x0A>"; " " for SentencePiece's '▁').
//
// Simplification against llama.cpp: a breaker must lie within one token's
// text; breakers split over several tokens are not recognised.
#include <algorithm>
#include <cmath>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "repeat_lengths.hpp"
#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kMultiplier =
    sdk::float_param("multiplier", 0, kUnbounded, "0.8", "penalty scale; 0 disables");
const tessera_param_spec kBase =
    sdk::float_param("base", 1, kUnbounded, "1.75", "penalty grows as base^(repeat length - allowed_length)");
const tessera_param_spec kAllowedLength = sdk::int_param(
    "allowed_length", 1, kUnbounded, "2", "repeats up to this many tokens long are not penalized");
const tessera_param_spec kLastN = sdk::int_param(
    "last_n", 0, kUnbounded, "0", "how many of the latest tokens are searched for repeats; 0 means all of them");
const tessera_param_spec kBreakers = sdk::typed_param(
    "sequence_breakers", TESSERA_PARAM_STRING_LIST, R"(["\n", ":", "\"", "*"])",
    "strings that end a repeat: tokens containing one never belong to a penalized run");
const tessera_param_spec* const kParams[] = {&kMultiplier, &kBase, &kAllowedLength, &kLastN, &kBreakers};

// Largest exponent that keeps base^exponent finite in float.
constexpr double kMaxLog2Penalty = 127;

class Dry final : public Sampler {
 public:
  Dry(const Params& params, const SamplerContext& context)
      : multiplier_(params.get_float(kMultiplier)),
        base_(params.get_float(kBase)),
        allowed_length_(static_cast<std::size_t>(params.get_int(kAllowedLength))),
        last_n_(static_cast<std::size_t>(params.get_int(kLastN))) {
    const auto breakers = params.get_string_list(kBreakers, {"\n", ":", "\"", "*"});
    if (context.vocab_size <= 0 || context.token_text == nullptr) return;
    is_breaker_.assign(static_cast<std::size_t>(context.vocab_size), 0);
    for (int32_t id = 0; id < context.vocab_size; ++id) {
      const char* text = context.text(id);
      if (text == nullptr) continue;
      const std::string_view token(text);
      for (const auto& b : breakers)
        if (!b.empty() && token.find(b) != std::string_view::npos) is_breaker_[static_cast<std::size_t>(id)] = 1;
    }
  }

  void apply(tessera_candidates& c) override {
    if (multiplier_ <= 0 || history_.size() <= allowed_length_) return;
    window_.assign(history_.begin(), history_.end());
    // A penalized run may only use the tokens after the last breaker.
    std::size_t tail = 0;
    while (tail < window_.size() && !breaker(window_[window_.size() - 1 - tail])) ++tail;
    if (tail < allowed_length_) return;

    longest_.clear();
    const auto lengths = repeat_lengths(window_, tail);
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      // A breaker that continued a run is never penalized (llama.cpp's
      // is_single_token_breaker, text-generation-webui): it is structure, and
      // penalizing it would push the text away from ending the repeat.
      if (lengths[i] < allowed_length_ || breaker(window_[i + 1])) continue;
      std::size_t& longest = longest_[window_[i + 1]];  // the token that continued the run
      longest = std::max(longest, lengths[i]);
    }
    if (longest_.empty()) return;
    const double max_exponent = base_ > 1 ? kMaxLog2Penalty / std::log2(base_) : kMaxLog2Penalty;
    for_each_listed(c, longest_, [&](Candidate& x, std::size_t length) {
      const double exponent = std::min(static_cast<double>(length - allowed_length_), max_exponent);
      x.logit -= static_cast<float>(multiplier_ * std::pow(base_, exponent));
    });
    logits_changed(c, /*order_kept=*/false);
  }

  void accept(int32_t token) override {
    history_.push_back(token);
    if (last_n_ > 0 && history_.size() > last_n_) history_.pop_front();
  }

  void reset() override { history_.clear(); }

 private:
  bool breaker(int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < is_breaker_.size() && is_breaker_[static_cast<std::size_t>(id)];
  }

  double multiplier_, base_;
  std::size_t allowed_length_, last_n_;
  std::vector<char> is_breaker_;  // by token id; empty when token texts are unknown
  std::deque<int32_t> history_;
  // Scratch reused between tokens.
  std::vector<int32_t> window_;
  std::unordered_map<int32_t, std::size_t> longest_;
};

const tessera_sampler_interface kInterface = sampler_interface<Dry>(0);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "dry", "DRY: penalize tokens that would extend a repeat of an earlier token sequence", kParams, &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
