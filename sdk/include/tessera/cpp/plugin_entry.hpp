// tessera/cpp/plugin_entry.hpp - optional header-only helpers for what every
// plugin's tessera_plugin_init hands out: the descriptor at this SDK's ABI
// version, and the initialize/shutdown pair that creates and deletes the
// plugin's state object.
//
//   struct PluginState : sdk::HostState {
//     explicit PluginState(const tessera_host_api* h) : HostState(h, "mine") {}
//   };
//   const tessera_plugin_descriptor kDescriptor = sdk::plugin_descriptor<PluginState>(
//       {.name = "mine", .version = "1.0.0", .description = "...", .params = kParams}, &kCompute);
//   TESSERA_PLUGIN_ENTRY(kDescriptor)
#pragma once

#include <span>

#include "tessera/cpp/plugin.hpp"
#include "tessera/tessera.h"

namespace tessera::sdk {

// The state most plugins keep: the host table (for sdk::Config) and a
// logger that names the plugin.
struct HostState {
  HostState(const tessera_host_api* host_api, const char* plugin_name) : host(host_api), log(host_api, plugin_name) {}
  const tessera_host_api* host = nullptr;
  Log log;
};

// The descriptor's initialize: `new State(host)` becomes the plugin state
// (a constructor may throw; guarded reports it). shutdown_state deletes it.
template <class State>
tessera_status initialize_state(const tessera_host_api* host, void** plugin_state, tessera_error* err) {
  return guarded(err, [&] {
    if (plugin_state == nullptr) throw Error(TESSERA_ERR_INVALID_ARGUMENT, "initialize: plugin_state is NULL");
    *plugin_state = new State(host);
  });
}

template <class State>
void shutdown_state(void* plugin_state) {
  delete static_cast<State*>(plugin_state);
}

// The descriptor fields that say who the plugin is.
struct PluginInfo {
  const char* name = nullptr;
  const char* version = nullptr;
  const char* description = nullptr;
  std::span<const tessera_param_spec* const> params = {};
  const char* author = nullptr;
  const char* license = nullptr;
};

// A descriptor at this SDK's ABI version for a plugin of one kind (the
// table's), whose state is a State (see initialize_state).
template <class State>
constexpr tessera_plugin_descriptor plugin_descriptor(const PluginInfo& info, uint32_t kinds,
                                                      const tessera_format_interface* format,
                                                      const tessera_compute_interface* compute) {
  return tessera_plugin_descriptor{sizeof(tessera_plugin_descriptor),
                                   TESSERA_ABI_VERSION_MAJOR,
                                   TESSERA_ABI_VERSION_MINOR,
                                   kinds,
                                   info.name,
                                   info.version,
                                   info.description,
                                   info.params.size(),
                                   info.params.empty() ? nullptr : info.params.data(),
                                   initialize_state<State>,
                                   shutdown_state<State>,
                                   format,
                                   compute,
                                   nullptr,
                                   nullptr,
                                   info.author,
                                   info.license};
}
template <class State>
constexpr tessera_plugin_descriptor plugin_descriptor(const PluginInfo& info, const tessera_format_interface* format) {
  return plugin_descriptor<State>(info, TESSERA_KIND_FORMAT, format, nullptr);
}
template <class State>
constexpr tessera_plugin_descriptor plugin_descriptor(const PluginInfo& info,
                                                      const tessera_compute_interface* compute) {
  return plugin_descriptor<State>(info, TESSERA_KIND_COMPUTE, nullptr, compute);
}

}  // namespace tessera::sdk

// Exports the plugin's one symbol, returning `descriptor`.
#define TESSERA_PLUGIN_ENTRY(descriptor)                                                         \
  extern "C" TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) { \
    return &(descriptor);                                                                        \
  }
