// The seeded random source of the stochastic samplers (dist, xtc, mirostat).
// mt19937_64 is fully specified by the C++ standard, and uniform() is built
// from its raw bits rather than std::uniform_real_distribution (whose output
// differs between standard libraries), so a seed gives the same draws
// everywhere.
#pragma once

#include <cstdint>
#include <random>

namespace tessera::samplers {

// The `seed` value that asks for a non-reproducible seed.
inline constexpr int64_t kRandomSeed = -1;

class Rng {
 public:
  // kRandomSeed draws a seed from std::random_device once; reset() then
  // replays that seed, like any fixed one.
  explicit Rng(int64_t seed);

  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Back to the state right after construction.
  void reset();
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
  std::mt19937_64 engine_;
};

}  // namespace tessera::samplers
