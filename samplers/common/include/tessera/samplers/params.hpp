// Reads a sampler's YAML parameters through tessera::sdk::Config, taking the
// default from the same tessera_param_spec the host validates against (one
// source of truth), and re-checking the range so a host that skipped
// validation still cannot hand the sampler a value outside it.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "tessera/cpp/plugin.hpp"
#include "tessera/host.h"
#include "tessera/plugin.h"

namespace tessera::samplers {

inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();

class Params {
 public:
  Params(const tessera_host_api* host, const tessera_config* node)
      : host_(host), node_(node), config_(host, node) {}

  double get_float(const tessera_param_spec& spec) const;
  int64_t get_int(const tessera_param_spec& spec) const;
  // Absent: `fallback` (lists have no scalar default to parse).
  std::vector<std::string> get_string_list(const tessera_param_spec& spec,
                                           std::vector<std::string> fallback) const;
  // Pairs (key as written, value); empty when absent.
  std::vector<std::pair<std::string, double>> get_number_map(const tessera_param_spec& spec) const;
  // "FILE:LINE:COL: " of the parameter, or of the sampler's node.
  std::string where(const char* key) const;

 private:
  double checked(const tessera_param_spec& spec, double value) const;

  const tessera_host_api* host_;
  const tessera_config* node_;
  sdk::Config config_;
};

}  // namespace tessera::samplers

namespace tessera::samplers {

// The `seed` parameter of every stochastic sampler (see rng.hpp).
inline constexpr tessera_param_spec kSeedParam = sdk::int_param(
    "seed", -1, 4294967295.0, "42", "random seed: the same seed gives the same tokens; -1 picks a random one");

}  // namespace tessera::samplers

namespace tessera::samplers {

// The `min_keep` parameter of the truncating samplers.
inline constexpr tessera_param_spec kMinKeepParam =
    sdk::int_param("min_keep", 1, kUnbounded, "1", "never keep fewer than this many tokens");

}  // namespace tessera::samplers
