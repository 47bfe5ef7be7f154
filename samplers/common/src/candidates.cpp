#include "tessera/samplers/candidates.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tessera/cpp/plugin.hpp"

namespace tessera::samplers {

void require_candidates(const tessera_candidates& c, const char* sampler) {
  if (c.data == nullptr || c.size == 0)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     std::string(sampler) + ": no candidates left (an earlier sampler removed them all)");
}

void logits_changed(tessera_candidates& c, bool order_kept) {
  c.normalized = 0;
  if (!order_kept) c.sorted = 0;
  c.selected = -1;
}

void softmax(tessera_candidates& c) {
  auto list = items(c);
  if (list.empty()) return;
  float max_logit = -INFINITY;
  if (c.sorted) {
    max_logit = list.front().logit;
  } else {
    for (const Candidate& x : list) max_logit = std::max(max_logit, x.logit);
  }
  if (!std::isfinite(max_logit))
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     "softmax: no candidate has a finite logit (all banned, or the logits are not numbers)");
  // Subtracting the maximum keeps exp() in range; the sum is in double so a
  // 128k vocabulary loses no precision.
  double sum = 0;
  for (Candidate& x : list) {
    const float e = std::exp(x.logit - max_logit);
    x.p = e;
    sum += e;
  }
  const double inv = 1.0 / sum;
  for (Candidate& x : list) x.p = static_cast<float>(x.p * inv);
  c.normalized = 1;
}

std::size_t argmax(const tessera_candidates& c) {
  auto list = items(c);
  if (c.sorted) return 0;
  std::size_t best = 0;
  for (std::size_t i = 1; i < list.size(); ++i)
    if (before(list[i], list[best])) best = i;
  return best;
}

std::size_t sort_top(tessera_candidates& c, std::size_t k) {
  auto list = items(c);
  k = std::min(k, list.size());
  if (c.sorted || k == 0) return k;
  if (k == list.size()) {
    std::sort(list.begin(), list.end(), before);
    c.sorted = 1;
  } else if (k <= 64) {
    // A heap of k: about n comparisons when most candidates never enter it.
    std::partial_sort(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(k), list.end(), before);
  } else {
    // Linear selection, then order only the k selected.
    const auto kth = list.begin() + static_cast<std::ptrdiff_t>(k);
    std::nth_element(list.begin(), kth - 1, list.end(), before);
    std::sort(list.begin(), kth, before);
  }
  return k;
}

void sort_all(tessera_candidates& c) { sort_top(c, static_cast<std::size_t>(c.size)); }

void truncate(tessera_candidates& c, std::size_t n) {
  if (n >= c.size) return;
  c.size = n;
  c.normalized = 0;
  c.selected = -1;
}

}  // namespace tessera::samplers
