// mirostat (v1): estimates the Zipf exponent s of the distribution from the
// m most likely candidates, derives the k for which top-k sampling has the
// surprise mu, keeps the top k, draws, and steers mu towards tau in
// accept(). Selects the token.
#include <algorithm>
#include <cmath>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/mirostat_state.hpp"
#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers {
namespace {

const tessera_param_spec kM =
    sdk::int_param("m", 2, kUnbounded, "100", "how many of the most likely tokens estimate the Zipf exponent");
const tessera_param_spec* const kParams[] = {&kTauParam, &kEtaParam, &kM, &kSeedParam};

class Mirostat final : public Sampler {
 public:
  Mirostat(const Params& params, const SamplerContext& context)
      : state_(params),
        m_(static_cast<std::size_t>(params.get_int(kM))),
        vocab_size_(context.vocab_size) {}

  void apply(tessera_candidates& c) override {
    require_candidates(c, "mirostat");
    softmax(c);
    const std::size_t k = top_k_for_mu(c);
    truncate(c, sort_top(c, k));
    c.sorted = 1;
    state_.select(c);
  }

  void accept(int32_t token) override { state_.accept(token); }
  void reset() override { state_.reset(); }

 private:
  // s_hat: least-squares fit of ln(p_i / p_{i+1}) = s * ln((i+2)/(i+1)) over
  // the m most likely; then k = (eps * 2^mu / (1 - N^-eps))^(1/s), eps = s - 1.
  std::size_t top_k_for_mu(tessera_candidates& c) const {
    const std::size_t ordered = sort_top(c, m_);
    double sum_tb = 0, sum_tt = 0;
    for (std::size_t i = 0; i + 1 < ordered; ++i) {
      if (!(c.data[i + 1].p > 0)) break;
      const double t = std::log(static_cast<double>(i + 2) / static_cast<double>(i + 1));
      const double b = std::log(static_cast<double>(c.data[i].p) / static_cast<double>(c.data[i + 1].p));
      sum_tb += t * b;
      sum_tt += t * t;
    }
    if (sum_tt == 0) return 1;
    const double s = sum_tb / sum_tt;
    const double eps = s - 1;
    const double n = static_cast<double>(vocab_size_ > 0 ? static_cast<uint64_t>(vocab_size_) : c.size);
    // eps / (1 - n^-eps) tends to 1 / ln n as eps -> 0.
    const double ratio = std::abs(eps) < 1e-9 ? 1 / std::log(n) : eps / (1 - std::pow(n, -eps));
    const double k = std::pow(ratio * std::exp2(state_.mu()), 1 / s);
    if (!(k >= 1)) return 1;
    return k >= static_cast<double>(c.size) ? static_cast<std::size_t>(c.size) : static_cast<std::size_t>(k);
  }

  MirostatState state_;
  std::size_t m_;
  int32_t vocab_size_;
};

const tessera_sampler_interface kInterface = sampler_interface<Mirostat>(TESSERA_SAMPLER_SELECTS);
const tessera_plugin_descriptor kDescriptor = sampler_descriptor(
    "mirostat", "mirostat 1.0: top-k with k adapted to a target surprise tau, then a seeded draw", kParams,
    &kInterface);

}  // namespace
}  // namespace tessera::samplers

TESSERA_SAMPLER_PLUGIN(tessera::samplers::kDescriptor)
