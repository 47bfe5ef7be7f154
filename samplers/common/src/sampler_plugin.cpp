#include "tessera/samplers/sampler_plugin.hpp"

namespace tessera::samplers::detail {

// The plugin's state is just the host API table: samplers need it to read
// their YAML node in create().
tessera_status initialize(const tessera_host_api* host, void** plugin_state, tessera_error*) {
  *plugin_state = const_cast<tessera_host_api*>(host);
  return TESSERA_OK;
}

void shutdown(void*) {}

static Sampler* self(tessera_sampler* handle) { return reinterpret_cast<Sampler*>(handle); }

tessera_status create(void* plugin_state, const tessera_config* params, const tessera_sampler_context* context,
                      tessera_sampler** out, tessera_error* err, SamplerFactory factory) {
  return sdk::guarded(err, [&] {
    if (out == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "create: `out` is NULL");
    SamplerContext resolved;
    if (TESSERA_HAS_FIELD(context, tessera_sampler_context, vocab_size)) resolved.vocab_size = context->vocab_size;
    if (TESSERA_HAS_FIELD(context, tessera_sampler_context, vocab)) {
      resolved.token_text = context->token_text;
      resolved.vocab = context->vocab;
    }
    const Params reader(static_cast<const tessera_host_api*>(plugin_state), params);
    *out = reinterpret_cast<tessera_sampler*>(factory(reader, resolved).release());
  });
}

tessera_status apply(tessera_sampler* sampler, tessera_candidates* candidates, tessera_error* err) {
  return sdk::guarded(err, [&] {
    if (sampler == nullptr || candidates == nullptr)
      throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "apply: NULL sampler or candidate list");
    self(sampler)->apply(*candidates);
  });
}

// accept/reset return nothing across the ABI; an exception there would be a
// bug, and must still not cross the boundary.
void accept(tessera_sampler* sampler, int32_t token) {
  tessera_error ignored;
  tessera_error_init(&ignored);
  sdk::guarded(&ignored, [&] { self(sampler)->accept(token); });
}

void reset(tessera_sampler* sampler) {
  tessera_error ignored;
  tessera_error_init(&ignored);
  sdk::guarded(&ignored, [&] { self(sampler)->reset(); });
}

void free_sampler(tessera_sampler* sampler) { delete self(sampler); }

}  // namespace tessera::samplers::detail
