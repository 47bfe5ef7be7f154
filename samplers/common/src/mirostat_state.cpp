#include "tessera/samplers/mirostat_state.hpp"

#include <cmath>

#include "tessera/samplers/draw.hpp"

namespace tessera::samplers {

void MirostatState::select(tessera_candidates& c) {
  softmax(c);
  c.selected = static_cast<int64_t>(draw(c, rng_));
  drawn_from_.clear();
  for (const Candidate& x : items(c)) drawn_from_.emplace_back(x.id, x.p);
}

void MirostatState::accept(int32_t token) {
  for (const auto& [id, p] : drawn_from_) {
    if (id != token || !(p > 0)) continue;
    const double surprise = -std::log2(static_cast<double>(p));
    mu_ -= eta_ * (surprise - tau_);
    break;
  }
  drawn_from_.clear();
}

void MirostatState::reset() {
  mu_ = 2 * tau_;
  rng_.reset();
  drawn_from_.clear();
}

}  // namespace tessera::samplers
