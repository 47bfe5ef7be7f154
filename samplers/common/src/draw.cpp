#include "tessera/samplers/draw.hpp"

#include <string>

#include "tessera/cpp/plugin.hpp"

namespace tessera::samplers {

std::size_t draw(const tessera_candidates& c, Rng& rng) {
  auto list = items(c);
  double total = 0;
  for (const Candidate& x : list) total += x.p;
  if (list.empty() || !(total > 0))
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "draw: the candidates' probabilities sum to zero");
  const double target = rng.uniform() * total;
  double cumulative = 0;
  std::size_t last_positive = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].p <= 0) continue;
    cumulative += list[i].p;
    last_positive = i;
    if (target < cumulative) return i;
  }
  return last_positive;  // rounding left target just above the last sum
}

}  // namespace tessera::samplers
