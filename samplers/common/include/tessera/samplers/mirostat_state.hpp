// The running state shared by mirostat v1 and v2 (Basu et al. 2021): the
// target surprise tau, the learning rate eta and mu, the current maximum
// surprise. After each token, mu -= eta * (observed surprise - tau), where
// the observed surprise is -log2 p of the accepted token under the
// distribution the sampler drew from.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/params.hpp"
#include "tessera/samplers/rng.hpp"

namespace tessera::samplers {

inline constexpr tessera_param_spec kTauParam =
    sdk::float_param("tau", 0, kUnbounded, "5", "target surprise (cross-entropy) in bits; lower is more focused");
inline constexpr tessera_param_spec kEtaParam =
    sdk::float_param("eta", 0, 1, "0.1", "learning rate of mu, the running surprise bound");

class MirostatState {
 public:
  explicit MirostatState(const Params& params)
      : tau_(params.get_float(kTauParam)),
        eta_(params.get_float(kEtaParam)),
        mu_(2 * tau_),
        rng_(params.get_int(kSeedParam)) {}

  double mu() const { return mu_; }
  // Draws the token from the (truncated) candidates, renormalized, and
  // keeps their probabilities for accept().
  void select(tessera_candidates& c);
  // Updates mu when `token` follows an apply(); tokens accepted without one
  // (the prompt) leave mu alone.
  void accept(int32_t token);
  // Back to mu = 2 * tau and the seed's first draw.
  void reset();

 private:
  double tau_, eta_, mu_;
  Rng rng_;
  std::vector<std::pair<int32_t, float>> drawn_from_;
};

}  // namespace tessera::samplers
