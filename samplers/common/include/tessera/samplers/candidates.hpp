// Helpers over the host's candidate list (tessera_candidates) that keep its
// `sorted` and `normalized` flags truthful, so each sampler does only the
// work the list's state still requires.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tessera/sampler.h"

namespace tessera::samplers {

using Candidate = tessera_token_candidate;

inline std::span<Candidate> items(tessera_candidates& c) {
  return {c.data, static_cast<std::size_t>(c.size)};
}
inline std::span<const Candidate> items(const tessera_candidates& c) {
  return {c.data, static_cast<std::size_t>(c.size)};
}

// Total order used everywhere: higher logit first, lower id on ties, so
// every partial or full sort gives the same result on every run.
inline bool before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Throws sdk::Error when the list is empty (a chain cannot go on from it).
void require_candidates(const tessera_candidates& c, const char* sampler);

// Call after changing logits: probabilities are stale; the order is kept
// only when the change was monotonic for every candidate.
void logits_changed(tessera_candidates& c, bool order_kept);

// p = softmax(logit) over the current candidates; sets `normalized`.
// Throws sdk::Error when no candidate has a finite logit.
void softmax(tessera_candidates& c);

// Index of the highest logit (the first one on ties, by `before`).
std::size_t argmax(const tessera_candidates& c);

// Moves the min(k, size) best candidates to the front, in order, by partial
// selection (no full sort unless k covers the list). Returns that count.
std::size_t sort_top(tessera_candidates& c, std::size_t k);

// Full sort (skipped when already sorted).
void sort_all(tessera_candidates& c);

// Keeps the first n candidates; probabilities then no longer sum to one.
void truncate(tessera_candidates& c, std::size_t n);

// Keeps the candidates for which keep(candidate) holds, in their order, so
// `sorted` stays valid. Returns the number kept.
template <class Keep>
std::size_t keep_if(tessera_candidates& c, Keep keep) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < c.size; ++i)
    if (keep(c.data[i])) c.data[kept++] = c.data[i];
  truncate(c, kept);
  return kept;
}

// Calls fn(candidate, value) for every candidate whose id is a key of
// `by_id` (an unordered_map or map from token id). Candidates still at the
// index equal to their id (the host builds the list in id order) are reached
// directly; only when a key is not found there is the list scanned once.
template <class Map, class Fn>
void for_each_listed(tessera_candidates& c, const Map& by_id, Fn fn) {
  bool missed = false;
  for (const auto& [id, value] : by_id) {
    const auto index = static_cast<uint64_t>(id);
    if (id >= 0 && index < c.size && c.data[index].id == id) {
      fn(c.data[index], value);
    } else {
      missed = true;
    }
  }
  if (!missed) return;
  for (std::size_t i = 0; i < c.size; ++i) {
    Candidate& x = c.data[i];
    if (static_cast<std::size_t>(x.id) == i) continue;  // reached directly above
    if (auto it = by_id.find(x.id); it != by_id.end()) fn(x, it->second);
  }
}

}  // namespace tessera::samplers
