#include "tessera/core/sampler_chain.hpp"

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace tessera {

SamplerChain::SamplerChain(const std::vector<SamplerEntry>& entries, PluginRegistry& registry,
                           const tessera_sampler_context& context) {
  try {
    for (const auto& entry : entries) {
      Plugin* plugin = registry.find_mutable(entry.name);
      if (plugin == nullptr || !plugin->is(TESSERA_KIND_SAMPLER))
        throw Error(fmt::format("{}: no sampler plugin named '{}'", entry.location.to_string(), entry.name),
                    TESSERA_ERR_NOT_FOUND);
      tessera_error err = make_plugin_error();
      tessera_sampler* instance = nullptr;
      const tessera_status status = plugin->sampler()->create(plugin->state(), entry.config, &context, &instance, &err);
      if (status != TESSERA_OK || instance == nullptr)
        throw Error(fmt::format("{}: sampler '{}' could not be created: {}", entry.location.to_string(), entry.name,
                                status != TESSERA_OK ? err.message : "create returned no instance"),
                    status != TESSERA_OK ? status : TESSERA_ERR_INTERNAL);
      stages_.push_back({plugin, instance, entry.location.to_string()});
    }
  } catch (...) {
    for (auto& stage : stages_) stage.plugin->sampler()->free(stage.instance);
    throw;
  }
}

SamplerChain::~SamplerChain() {
  for (auto& stage : stages_) stage.plugin->sampler()->free(stage.instance);
}

int32_t SamplerChain::sample(std::span<const float> logits) {
  candidates_.resize(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    candidates_[i] = tessera_token_candidate{static_cast<int32_t>(i), logits[i], 0.0f};
  tessera_candidates list{sizeof(tessera_candidates), candidates_.data(), candidates_.size(), 0, 0, -1};
  for (auto& stage : stages_) {
    tessera_error err = make_plugin_error();
    const uint64_t size_before = list.size;
    const tessera_status status = stage.plugin->sampler()->apply(stage.instance, &list, &err);
    if (status != TESSERA_OK)
      throw Error(fmt::format("sampler '{}' ({}) failed: {}", stage.plugin->name(), stage.where, err.message), status);
    if (list.size > size_before || list.data != candidates_.data())
      throw Error(fmt::format("sampler '{}' broke the ABI contract: it grew or replaced the candidate list",
                              stage.plugin->name()),
                  TESSERA_ERR_INTERNAL);
  }
  candidates_.resize(list.size);
  if (list.selected < 0 || static_cast<uint64_t>(list.selected) >= list.size)
    throw Error(stages_.empty() ? "the sampler chain is empty"
                                : fmt::format("the sampler chain ended without selecting a token (last sampler: '{}')",
                                              stages_.back().plugin->name()),
                TESSERA_ERR_INVALID_ARGUMENT);
  const int32_t token = candidates_[static_cast<std::size_t>(list.selected)].id;
  accept(token);
  return token;
}

void SamplerChain::accept(int32_t token) {
  for (auto& stage : stages_)
    if (stage.plugin->sampler()->accept != nullptr) stage.plugin->sampler()->accept(stage.instance, token);
}

void SamplerChain::reset() {
  for (auto& stage : stages_)
    if (stage.plugin->sampler()->reset != nullptr) stage.plugin->sampler()->reset(stage.instance);
}

}  // namespace tessera
