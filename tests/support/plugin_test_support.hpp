// What the plugin tests of every backend share: the plugins this build
// produced, loaded through the core the way the product does (once per test
// binary: the libraries stay mapped), one-node graphs and random inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/core/plugin_registry.hpp"
#include "tessera/tessera.h"
#include "test_data.hpp"

namespace tessera::test {

inline PluginRegistry& build_plugins() {
  static PluginRegistry* registry = [] {
    auto* r = new PluginRegistry;
    r->discover({build_plugin_dir()});
    return r;
  }();
  return *registry;
}

// Throws when the build produced no plugin `name`.
inline Plugin& build_plugin(const std::string& name) {
  Plugin* p = build_plugins().find_mutable(name);
  if (p == nullptr) throw std::runtime_error(name + " plugin not found in " + build_plugin_dir().string());
  return *p;
}

inline tessera_node make_node(int32_t op, tessera_tensor* dst, std::vector<tessera_tensor*> src) {
  tessera_node n{};
  n.struct_size = sizeof n;
  n.op = op;
  n.dst = dst;
  for (std::size_t i = 0; i < src.size(); ++i) n.src[i] = src[i];
  return n;
}

inline std::vector<float> random_floats(std::size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace tessera::test
