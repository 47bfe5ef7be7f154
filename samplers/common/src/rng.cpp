#include "tessera/samplers/rng.hpp"

namespace tessera::samplers {

static uint64_t resolve(int64_t seed) {
  if (seed != kRandomSeed) return static_cast<uint64_t>(seed);
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

Rng::Rng(int64_t seed) : seed_(resolve(seed)), engine_(seed_) {}

double Rng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

void Rng::reset() { engine_.seed(seed_); }

}  // namespace tessera::samplers
