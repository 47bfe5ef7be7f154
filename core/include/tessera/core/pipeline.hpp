// A pipeline file (YAML) parsed, validated against config/schema/pipeline.schema.yaml
// and checked for consistency with the plugins it names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/core/config_tree.hpp"
#include "tessera/core/diagnostics.hpp"
#include "tessera/core/layer_range.hpp"

namespace tessera {

class PluginRegistry;

struct ModelSettings {
  std::filesystem::path path;  // resolved: variables expanded, relative to the pipeline file
  std::string format;          // empty: detect
  std::filesystem::path tokenizer;  // a tokenizer.model overriding the model's vocabulary; empty: none
  bool mmap = true;                 // host backends use the mapped weights in place
  const tessera_config* config = nullptr;
};

struct ComputeEntry {
  std::string backend;
  int32_t device = 0;
  std::optional<LayerRange> layers;  // nullopt: the layers no other entry takes
  const tessera_config* config = nullptr;
  SourceLocation location;
};

struct KernelOverride {
  int32_t op = 0;     // tessera_op
  int32_t dtype = 0;  // tessera_dtype
  std::string text;   // as written, e.g. "mul_mat.q4_0"
};

struct KernelEntry {
  std::string plugin;  // the plugin's name (also when given as a file)
  std::string backend;
  std::vector<KernelOverride> ops;
  const tessera_config* config = nullptr;
  SourceLocation location;
};

struct ContextSettings {
  int64_t size = 4096;
  int64_t batch = 512;
  std::string kv_type = "f16";
  bool shift = false;
  std::optional<double> rope_freq_base;
  std::optional<double> rope_freq_scale;
};

struct SamplerEntry {
  std::string name;
  const tessera_config* config = nullptr;  // the whole entry, parameters included
  SourceLocation location;
};

struct Pipeline {
  std::filesystem::path file;
  std::unique_ptr<ConfigTree> tree;  // owns every `config` pointer below
  ModelSettings model;
  std::vector<std::filesystem::path> plugin_paths;
  std::vector<ComputeEntry> compute;
  std::vector<KernelEntry> kernels;
  ContextSettings context;
  std::vector<SamplerEntry> sampling;
};

struct PipelineLoadResult {
  std::unique_ptr<Pipeline> pipeline;  // null when diagnostics has errors
  Diagnostics diagnostics;
};

// Reads and validates `file`. The pipeline's plugin_paths, then
// `default_paths`, are discovered into `registry` before plugin names are
// checked. Never throws for mistakes in the file: they are diagnostics.
// `edit`, when given, may change the parsed document before validation
// (command-line overrides such as --threads), so overrides are checked too.
PipelineLoadResult load_pipeline(const std::filesystem::path& file, PluginRegistry& registry,
                                 const std::vector<std::filesystem::path>& default_paths,
                                 const std::function<void(YAML::Node&)>& edit = {});

// Expands ${NAME} and ${NAME:-default} from the environment. Throws
// tessera::Error for an unset variable without default or a missing '}'.
std::string expand_variables(const std::string& text);

// Parses "mul_mat.q4_0" into op and dtype; nullopt when either is unknown.
std::optional<KernelOverride> parse_kernel_override(const std::string& text);

}  // namespace tessera
