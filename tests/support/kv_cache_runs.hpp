// Whole-model runs for the KV cache type tests (tests/e2e and tests/cuda):
// a session from one compute list and cache type, the logits of a batched
// prefill followed by single-token decodes, and how far two runs' logits lie
// apart.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "relative_error.hpp"
#include "test_data.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace tessera::test {

struct KvLoaded {
  PluginRegistry registry;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Session> session;
};

// `compute`: the pipeline's compute list, e.g. "[ { backend: cpu, threads: 2 } ]".
inline std::unique_ptr<KvLoaded> load_kv_session(const std::filesystem::path& model, const std::filesystem::path& dir,
                                                 const std::string& compute, const std::string& kv_type) {
  auto loaded = std::make_unique<KvLoaded>();
  const std::filesystem::path file = dir / ("pipeline-" + kv_type + ".yaml");
  std::ofstream(file) << "model: { path: \"" << model.string() << "\" }\ncompute: " << compute
                      << "\ncontext: { size: 256, batch: 64, kv_type: " << kv_type << " }\n";
  auto result = load_pipeline(file, loaded->registry, plugin_search_path());
  if (!result.pipeline) throw std::runtime_error(result.diagnostics.to_string());
  loaded->pipeline = std::move(result.pipeline);
  loaded->session = std::make_unique<Session>(*loaded->pipeline, loaded->registry);
  return loaded;
}

// Logits of a 24-token batch (the batched attention path), then of each
// further token alone (the single-token path), all reading the cache.
inline std::vector<std::vector<float>> prefill_then_decode(KvLoaded& loaded, const std::vector<int32_t>& tokens) {
  LlamaRuntime& runtime = loaded.session->runtime();
  std::vector<std::vector<float>> out;
  out.push_back(runtime.evaluate(std::span<const int32_t>(tokens.data(), 24)));
  for (std::size_t i = 24; i < tokens.size(); ++i) out.push_back(runtime.evaluate(std::span<const int32_t>(&tokens[i], 1)));
  return out;
}

}  // namespace tessera::test
