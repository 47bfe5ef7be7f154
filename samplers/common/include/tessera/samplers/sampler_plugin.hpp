// Entry-point boilerplate of a sampler plugin: a sampler is a C++ class
// deriving from Sampler; these helpers build the C interface table and the
// plugin descriptor around it, with every entry point exception-guarded.
//
//   class TopK final : public Sampler { ... TopK(const Params&, const SamplerContext&); };
//   const tessera_sampler_interface kInterface = sampler_interface<TopK>(0);
//   const tessera_plugin_descriptor kDescriptor =
//       sampler_descriptor("top_k", "keep the k most likely tokens", kParams, &kInterface);
//   TESSERA_SAMPLER_PLUGIN(kDescriptor)
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "tessera/plugin.h"
#include "tessera/samplers/params.hpp"

namespace tessera::samplers {

// The model facts a sampler may use; the context's optional fields resolved.
struct SamplerContext {
  int32_t vocab_size = 0;  // 0 when the host did not say
  const char* (*token_text)(const void* vocab, int32_t id) = nullptr;
  const void* vocab = nullptr;

  // Text of token `id`, or NULL when unknown.
  const char* text(int32_t id) const { return token_text != nullptr ? token_text(vocab, id) : nullptr; }
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual void apply(tessera_candidates& candidates) = 0;
  virtual void accept(int32_t /*token*/) {}
  virtual void reset() {}
};

using SamplerFactory = std::unique_ptr<Sampler> (*)(const Params&, const SamplerContext&);

namespace detail {
tessera_status initialize(const tessera_host_api* host, void** plugin_state, tessera_error* err);
void shutdown(void* plugin_state);
tessera_status create(void* plugin_state, const tessera_config* params, const tessera_sampler_context* context,
                      tessera_sampler** out, tessera_error* err, SamplerFactory factory);
tessera_status apply(tessera_sampler* sampler, tessera_candidates* candidates, tessera_error* err);
void accept(tessera_sampler* sampler, int32_t token);
void reset(tessera_sampler* sampler);
void free_sampler(tessera_sampler* sampler);

template <class Impl>
tessera_status create_entry(void* plugin_state, const tessera_config* params, const tessera_sampler_context* context,
                            tessera_sampler** out, tessera_error* err) {
  return create(plugin_state, params, context, out, err,
                [](const Params& p, const SamplerContext& c) -> std::unique_ptr<Sampler> {
                  return std::make_unique<Impl>(p, c);
                });
}
}  // namespace detail

// `flags`: TESSERA_SAMPLER_SELECTS for a sampler that chooses the token.
template <class Impl>
constexpr tessera_sampler_interface sampler_interface(uint32_t flags) {
  return tessera_sampler_interface{sizeof(tessera_sampler_interface), flags, detail::create_entry<Impl>,
                                   detail::apply, detail::accept, detail::reset, detail::free_sampler};
}

constexpr tessera_plugin_descriptor sampler_descriptor(const char* name, const char* description,
                                                       std::span<const tessera_param_spec* const> params,
                                                       const tessera_sampler_interface* sampler) {
  return tessera_plugin_descriptor{sizeof(tessera_plugin_descriptor),
                                   TESSERA_ABI_VERSION_MAJOR,
                                   TESSERA_ABI_VERSION_MINOR,
                                   TESSERA_KIND_SAMPLER,
                                   name,
                                   TESSERA_VERSION_STRING,
                                   description,
                                   params.size(),
                                   params.empty() ? nullptr : params.data(),
                                   detail::initialize,
                                   detail::shutdown,
                                   nullptr,
                                   nullptr,
                                   sampler,
                                   nullptr,
                                   "tessera",
                                   nullptr};  // license: the project states none yet
}

}  // namespace tessera::samplers

// Exports the plugin's one symbol, returning `descriptor`.
#define TESSERA_SAMPLER_PLUGIN(descriptor)                                                 \
  extern "C" TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) { \
    return &(descriptor);                                                                  \
  }
