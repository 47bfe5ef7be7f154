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
    r->discover(plugin_search_path());
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

// A backend of a compute plugin and the buffers allocated on it; frees the
// buffers, then the backend, on destruction. A derived class creates the
// backend into backend_ (left NULL when creation fails).
class BackendBuffers {
 public:
  explicit BackendBuffers(const tessera_compute_interface& api) : api_(api) {}
  ~BackendBuffers() {
    for (tessera_buffer* b : buffers_) api_.buffer_free(b);
    if (backend_ != nullptr) api_.backend_free(backend_);
  }
  BackendBuffers(const BackendBuffers&) = delete;
  BackendBuffers& operator=(const BackendBuffers&) = delete;

  const tessera_compute_interface& api() const { return api_; }
  tessera_backend* get() const { return backend_; }

  // Throws with the plugin's message when the allocation fails.
  tessera_buffer* alloc(uint64_t bytes) {
    tessera_buffer* b = nullptr;
    tessera_error err;
    tessera_error_init(&err);
    if (api_.buffer_alloc(backend_, bytes, &b, &err) != TESSERA_OK) throw std::runtime_error(err.message);
    buffers_.push_back(b);
    return b;
  }

  // `bytes` of the caller's memory used in place (buffer_wrap_host); throws
  // with the plugin's message when it is refused or not offered.
  tessera_buffer* wrap(const void* host, uint64_t bytes) {
    if (!TESSERA_HAS_FIELD(&api_, tessera_compute_interface, buffer_wrap_host) || api_.buffer_wrap_host == nullptr)
      throw std::runtime_error("the plugin offers no buffer_wrap_host");
    tessera_buffer* b = nullptr;
    tessera_error err;
    tessera_error_init(&err);
    if (api_.buffer_wrap_host(backend_, host, bytes, &b, &err) != TESSERA_OK) throw std::runtime_error(err.message);
    buffers_.push_back(b);
    return b;
  }

 protected:
  const tessera_compute_interface& api_;
  tessera_backend* backend_ = nullptr;

 private:
  std::vector<tessera_buffer*> buffers_;
};

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
