#include "tessera/core/session.hpp"

#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/model_params.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/sentencepiece_tokenizer.hpp"

namespace tessera {
namespace {

const char* token_text(const void* vocab, int32_t id) {
  const auto& tokens = *static_cast<const std::vector<std::string>*>(vocab);
  return id >= 0 && static_cast<std::size_t>(id) < tokens.size() ? tokens[static_cast<std::size_t>(id)].c_str() : nullptr;
}

}  // namespace

Session::Session(const Pipeline& pipeline, PluginRegistry& registry, const LlamaRuntime::LoadProgress& progress) {
  model_ = std::make_unique<ModelFile>(pipeline.model.path, registry, pipeline.model.format);
  std::vector<BackendPlacement> placements;
  for (const ComputeEntry& entry : pipeline.compute) {
    Plugin* plugin = registry.find_mutable(entry.backend);
    if (plugin == nullptr || !plugin->is(TESSERA_KIND_COMPUTE))
      throw Error(fmt::format("{}: no compute plugin named '{}'", entry.location.to_string(), entry.backend));
    backends_.push_back(std::make_unique<ComputeBackend>(*plugin, entry.device, entry.config));
    placements.push_back({backends_.back().get(), entry.layers});
  }
  RuntimeOptions options;
  options.context_size = pipeline.context.size;
  options.batch = pipeline.context.batch;
  options.kv_type = pipeline.context.kv_type;
  options.mmap = pipeline.model.mmap;
  options.rope_freq_base = pipeline.context.rope_freq_base;
  options.rope_freq_scale = pipeline.context.rope_freq_scale;
  for (const KernelEntry& entry : pipeline.kernels) {
    Plugin* plugin = registry.find_mutable(entry.plugin);
    if (plugin == nullptr || !plugin->is(TESSERA_KIND_KERNEL))
      throw Error(fmt::format("{}: no kernel plugin named '{}'", entry.location.to_string(), entry.plugin));
    kernels_.push_back(std::make_unique<KernelInstance>(*plugin, entry));
    for (const KernelOverride& op : entry.ops) options.kernels.push_back({entry.backend, op.op, op.dtype, kernels_.back().get()});
  }
  // The tokenizer first: a bad vocabulary is refused before the weights load.
  // A tokenizer.model named by the pipeline wins; else one the format plugin
  // found beside the weights (metadata key tokenizer.model_file, e.g. a
  // Hugging Face directory); else the vocabulary in the model's metadata.
  std::filesystem::path sp_model = pipeline.model.tokenizer;
  if (sp_model.empty()) sp_model = model_->get_string("tokenizer.model_file").value_or("");
  if (!sp_model.empty()) {
    tokenizer_ = std::make_unique<SentencePieceTokenizer>(sp_model);
    const int64_t vocab_size = read_hyper_params(*model_).vocab_size;
    if (tokenizer_->vocab_size() != vocab_size)
      throw Error(fmt::format("{}: {} pieces, but the model's vocabulary has {} tokens", sp_model.string(),
                              tokenizer_->vocab_size(), vocab_size),
                  TESSERA_ERR_FORMAT);
  } else {
    try {
      tokenizer_ = std::make_unique<SpmTokenizer>(read_tokenizer(*model_));
    } catch (const Error& e) {
      const std::string file = model_->path().string();
      if (std::string_view(e.what()).starts_with(file)) throw;
      throw Error(fmt::format("{}: {}", file, e.what()), e.code());
    }
  }
  runtime_ = std::make_unique<LlamaRuntime>(*model_, std::move(placements), options, progress);
  if (!pipeline.sampling.empty()) {
    // Samplers match text as it reads (DRY's "\n" breaker), so they get each
    // token decoded: "<0x0A>" as a newline, '▁' as a space, controls empty.
    sampler_texts_.reserve(static_cast<std::size_t>(tokenizer_->vocab_size()));
    for (int32_t id = 0; id < tokenizer_->vocab_size(); ++id) sampler_texts_.push_back(tokenizer_->piece(id));
    const tessera_sampler_context context{sizeof(tessera_sampler_context), tokenizer_->vocab_size(), token_text,
                                          &sampler_texts_};
    sampler_ = std::make_unique<SamplerChain>(pipeline.sampling, registry, context);
  }
}

Session::~Session() = default;

}  // namespace tessera
