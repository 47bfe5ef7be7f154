// The final draw from the distribution of the candidates' probabilities.
#pragma once

#include <cstddef>

#include "tessera/samplers/candidates.hpp"
#include "tessera/samplers/rng.hpp"

namespace tessera::samplers {

// Index i drawn with probability p_i / sum(p), by inverse transform on the
// list in its current order (no sort needed). `p` must be current: call
// softmax() first unless the list is already normalized.
std::size_t draw(const tessera_candidates& c, Rng& rng);

}  // namespace tessera::samplers
