#include "tessera/core/pipeline.hpp"

#include <cctype>
#include <cstdlib>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "tessera/core/error.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/scalar_parse.hpp"
#include "tessera/core/schema.hpp"
#include "tessera/core/suggest.hpp"
#include "tessera/plugin.h"

namespace tessera {
namespace fs = std::filesystem;

std::string expand_variables(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size() || text[i + 1] != '{') {
      out += text[i];
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) throw Error(fmt::format("'${{' without closing '}}' in '{}'", text));
    const std::string inner = text.substr(i + 2, close - i - 2);
    const std::size_t sep = inner.find(":-");
    const std::string name = inner.substr(0, sep);
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && *value != '\0') {
      out += value;
    } else if (sep != std::string::npos) {
      out += inner.substr(sep + 2);
    } else {
      throw Error(fmt::format("environment variable '{}' is not set (write ${{{}:-default}} to give a default)", name,
                              name));
    }
    i = close;
  }
  return out;
}

std::optional<KernelOverride> parse_kernel_override(const std::string& text) {
  const auto dot = text.find('.');
  if (dot == std::string::npos) return std::nullopt;
  const std::string op_name = text.substr(0, dot);
  std::string dtype_name = text.substr(dot + 1);
  for (char& c : dtype_name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  KernelOverride result;
  result.text = text;
  bool op_found = false, dtype_found = false;
  for (int32_t op = 1; op < TESSERA_OP_COUNT_; ++op)
    if (op_name == tessera_op_name(op)) {
      result.op = op;
      op_found = true;
    }
  for (int32_t id = 0; id < 1100 && !dtype_found; ++id) {
    const tessera_dtype_traits traits = tessera_dtype_info(id);
    if (traits.name != nullptr && dtype_name == traits.name) {
      result.dtype = id;
      dtype_found = true;
    }
  }
  if (!op_found || !dtype_found) return std::nullopt;
  return result;
}

namespace {

const tessera_config* child(const tessera_config* node, const std::string& key) {
  if (node == nullptr) return nullptr;
  for (const auto& [name, value] : node->entries)
    if (name == key) return value.get();
  return nullptr;
}

std::string scalar_or(const tessera_config* node, const std::string& fallback) {
  return node != nullptr && node->kind == TESSERA_CONFIG_SCALAR ? node->scalar : fallback;
}

// Builds the typed Pipeline from an already schema-checked tree, then checks
// what the schema cannot express (layer overlaps, the sampler chain, kernel
// targets, the model file).
class PipelineBuilder {
 public:
  PipelineBuilder(Pipeline& p, PluginRegistry& registry, Diagnostics& out)
      : p_(p), registry_(registry), out_(out), base_dir_(p.file.parent_path()) {}

  void build() {
    const tessera_config* root = p_.tree->root();
    build_model(child(root, "model"));
    if (const tessera_config* list = child(root, "compute")) build_compute(list);
    if (const tessera_config* list = child(root, "kernels")) build_kernels(list);
    if (const tessera_config* ctx = child(root, "context")) build_context(ctx);
    if (const tessera_config* list = child(root, "sampling")) build_sampling(list);
  }

 private:
  void build_model(const tessera_config* model) {
    p_.model.config = model;
    const tessera_config* path = child(model, "path");
    p_.model.format = scalar_or(child(model, "format"), "");
    p_.model.mmap = parse_bool(scalar_or(child(model, "mmap"), "true")).value_or(true);
    try {
      fs::path resolved = expand_variables(path->scalar);
      if (resolved.is_relative()) resolved = base_dir_ / resolved;
      p_.model.path = resolved.lexically_normal();
    } catch (const Error& e) {
      out_.error(path->location, fmt::format("'model.path': {}", e.what()));
      return;
    }
    if (const tessera_config* tok = child(model, "tokenizer")) {
      try {
        fs::path t = expand_variables(tok->scalar);
        if (t.is_relative()) t = base_dir_ / t;
        p_.model.tokenizer = t.lexically_normal();
        if (!fs::is_regular_file(p_.model.tokenizer))
          out_.error(tok->location, fmt::format("'model.tokenizer': '{}' does not exist", p_.model.tokenizer.string()));
      } catch (const Error& e) {
        out_.error(tok->location, fmt::format("'model.tokenizer': {}", e.what()));
      }
    }
    std::error_code ec;
    if (!fs::exists(p_.model.path, ec)) {
      out_.error(path->location, fmt::format("'model.path': model '{}' does not exist (resolved relative to {})",
                                             p_.model.path.string(), base_dir_.string()));
      return;
    }
    if (p_.model.format.empty()) detect_format(path->location);
  }

  // Asks every format plugin whether it reads the file; the most confident wins.
  void detect_format(const SourceLocation& where) {
    try {
      if (const Plugin* plugin = tessera::detect_format(p_.model.path, registry_)) {
        p_.model.format = plugin->name();
        return;
      }
    } catch (const Error& e) {  // a format plugin failed to initialise
      out_.error(where, e.what());
      return;
    }
    out_.error(where, fmt::format("'model.path': no format plugin recognises '{}' (format plugins: {}); set "
                                  "'model.format' or install the right plugin",
                                  p_.model.path.string(), quoted_list(registry_.names_of_kind(TESSERA_KIND_FORMAT))));
  }

  void build_compute(const tessera_config* list) {
    const ComputeEntry* open_entry = nullptr;
    for (const auto& item : list->items) {
      ComputeEntry entry;
      entry.config = item.get();
      entry.location = item->location;
      entry.backend = scalar_or(child(item.get(), "backend"), "");
      entry.device = static_cast<int32_t>(parse_int(scalar_or(child(item.get(), "device"), "0")).value_or(0));
      if (const tessera_config* layers = child(item.get(), "layers")) {
        entry.layers = parse_layer_range(layers->scalar);
        for (const auto& other : p_.compute)
          if (other.layers && entry.layers && other.layers->overlaps(*entry.layers))
            out_.error(layers->location,
                       fmt::format("'{}': layers {} overlap layers {} of backend '{}' at line {}", layers->path,
                                   entry.layers->to_string(), other.layers->to_string(), other.backend,
                                   other.location.line));
      } else {
        if (open_entry != nullptr)
          out_.error(item->location,
                     fmt::format("'{}': only one compute entry may omit 'layers' (it takes the remaining layers); "
                                 "the entry at line {} already does",
                                 item->path, open_entry->location.line));
      }
      p_.compute.push_back(std::move(entry));
      if (!p_.compute.back().layers) open_entry = &p_.compute.back();
    }
    // Two entries on the same device of the same backend make no sense.
    for (std::size_t i = 0; i < p_.compute.size(); ++i)
      for (std::size_t j = i + 1; j < p_.compute.size(); ++j)
        if (p_.compute[i].backend == p_.compute[j].backend && p_.compute[i].device == p_.compute[j].device)
          out_.error(p_.compute[j].location,
                     fmt::format("backend '{}' device {} is listed twice (also at line {}); give each entry its own "
                                 "device or merge their layer ranges",
                                 p_.compute[j].backend, p_.compute[j].device, p_.compute[i].location.line));
  }

  void build_kernels(const tessera_config* list) {
    for (const auto& item : list->items) {
      KernelEntry entry;
      entry.config = item.get();
      entry.location = item->location;
      entry.backend = scalar_or(child(item.get(), "backend"), "");
      const tessera_config* plugin_node = child(item.get(), "plugin");
      const std::string plugin_text = scalar_or(plugin_node, "");
      const Plugin* plugin = nullptr;
      if (names_plugin_file(plugin_text)) {
        try {
          plugin = &registry_.load_file(base_dir_ / plugin_text);
        } catch (const Error&) {
        }
      } else {
        plugin = registry_.find(plugin_text, TESSERA_KIND_KERNEL);
      }
      if (plugin == nullptr || !plugin->is(TESSERA_KIND_KERNEL)) continue;  // reported by the schema check
      entry.plugin = plugin->name();
      const tessera_kernel_interface* k = plugin->kernel();
      if (entry.backend != k->backend)
        out_.error(child(item.get(), "backend")->location,
                   fmt::format("'{}': kernel plugin '{}' overrides ops of backend '{}', not '{}'",
                               child(item.get(), "backend")->path, plugin->name(), k->backend, entry.backend));
      bool backend_in_pipeline = false;
      for (const auto& c : p_.compute) backend_in_pipeline |= c.backend == entry.backend;
      if (!backend_in_pipeline)
        out_.error(item->location, fmt::format("'{}': backend '{}' is not in 'compute'; the kernel would never run",
                                               item->path, entry.backend));
      std::vector<std::string> declared;
      for (uint64_t i = 0; i < k->op_count; ++i) {
        const char* op = tessera_op_name(k->ops[i]->op);
        const char* dtype = tessera_dtype_info(k->ops[i]->dtype).name;
        std::string text = fmt::format("{}.{}", op ? op : "?", dtype ? dtype : "?");
        for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        declared.push_back(text);
      }
      if (const tessera_config* ops = child(item.get(), "ops")) {
        for (const auto& op_node : ops->items) {
          auto parsed = parse_kernel_override(op_node->scalar);
          std::string lower = op_node->scalar;
          bool is_declared = false;
          for (const auto& d : declared) is_declared |= d == lower;
          if (!parsed || !is_declared) {
            out_.error(op_node->location,
                       fmt::format("'{}': kernel plugin '{}' does not implement '{}'{}; it declares {}", op_node->path,
                                   plugin->name(), op_node->scalar, did_you_mean(lower, declared), quoted_list(declared)));
            continue;
          }
          entry.ops.push_back(*parsed);
        }
      }
      p_.kernels.push_back(std::move(entry));
    }
  }

  void build_context(const tessera_config* ctx) {
    auto& c = p_.context;
    c.size = parse_int(scalar_or(child(ctx, "size"), "4096")).value_or(c.size);
    c.batch = parse_int(scalar_or(child(ctx, "batch"), "512")).value_or(c.batch);
    c.kv_type = scalar_or(child(ctx, "kv_type"), c.kv_type);
    c.shift = parse_bool(scalar_or(child(ctx, "shift"), "false")).value_or(false);
    if (const tessera_config* v = child(ctx, "rope_freq_base")) c.rope_freq_base = parse_double(v->scalar);
    if (const tessera_config* v = child(ctx, "rope_freq_scale")) c.rope_freq_scale = parse_double(v->scalar);
    if (child(ctx, "batch") == nullptr) {
      c.batch = std::min(c.batch, c.size);  // the default batch never exceeds a small context
    } else if (c.batch > c.size) {
      out_.error(child(ctx, "batch")->location,
                 fmt::format("'context.batch' ({}) is larger than 'context.size' ({}); expected batch <= size",
                             c.batch, c.size));
    }
  }

  void build_sampling(const tessera_config* list) {
    for (const auto& item : list->items)
      p_.sampling.push_back(SamplerEntry{scalar_or(child(item.get(), "name"), ""), item.get(), item->location});
    if (p_.sampling.empty()) {
      out_.error(list->location, "'sampling' is empty; expected a chain ending in a sampler that selects a token "
                                 "(e.g. greedy or dist), or no 'sampling' key for greedy decoding");
      return;
    }
    for (std::size_t i = 0; i < p_.sampling.size(); ++i) {
      const Plugin* plugin = registry_.find(p_.sampling[i].name, TESSERA_KIND_SAMPLER);
      if (plugin == nullptr) return;  // reported by the schema check
      const bool selects = (plugin->sampler()->flags & TESSERA_SAMPLER_SELECTS) != 0;
      const bool last = i + 1 == p_.sampling.size();
      if (last && !selects)
        out_.error(p_.sampling[i].location,
                   fmt::format("the sampler chain ends with '{}', which does not select a token; expected a final "
                               "sampler that does, one of {}",
                               plugin->name(), quoted_list(selecting_samplers())));
      if (!last && selects)
        out_.error(p_.sampling[i].location,
                   fmt::format("sampler '{}' selects a token but is not last; the {} sampler(s) after it would have "
                               "no effect",
                               plugin->name(), p_.sampling.size() - i - 1));
    }
  }

  std::vector<std::string> selecting_samplers() const {
    std::vector<std::string> names;
    for (const Plugin* p : registry_.plugins())
      if (p->is(TESSERA_KIND_SAMPLER) && (p->sampler()->flags & TESSERA_SAMPLER_SELECTS)) names.push_back(p->name());
    return names;
  }

  Pipeline& p_;
  PluginRegistry& registry_;
  Diagnostics& out_;
  fs::path base_dir_;
};

}  // namespace

PipelineLoadResult load_pipeline(const fs::path& file, PluginRegistry& registry,
                                 const std::vector<fs::path>& default_paths,
                                 const std::function<void(YAML::Node&)>& edit) {
  PipelineLoadResult result;
  Diagnostics& out = result.diagnostics;
  const std::string name = file.string();

  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    out.error({name, 0, 0}, "pipeline file does not exist or is not a regular file");
    return result;
  }
  YAML::Node document;
  try {
    document = YAML::LoadFile(name);
  } catch (const YAML::ParserException& e) {
    out.error({name, e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
    return result;
  } catch (const YAML::Exception& e) {
    out.error({name, 0, 0}, std::string("cannot read pipeline: ") + e.what());
    return result;
  }

  if (edit) {
    try {
      edit(document);
    } catch (const Error& e) {
      out.error({name, 0, 0}, e.what());
      return result;
    }
  }

  auto pipeline = std::make_unique<Pipeline>();
  pipeline->file = fs::absolute(file).lexically_normal();
  const fs::path base_dir = pipeline->file.parent_path();

  // The pipeline's own plugin_paths are searched first.
  std::vector<fs::path> search;
  if (document.IsMap() && document["plugin_paths"] && document["plugin_paths"].IsSequence()) {
    for (const auto& item : document["plugin_paths"]) {
      if (!item.IsScalar()) continue;  // the schema reports it
      try {
        fs::path p = expand_variables(item.Scalar());
        if (p.is_relative()) p = base_dir / p;
        pipeline->plugin_paths.push_back(p.lexically_normal());
        search.push_back(pipeline->plugin_paths.back());
      } catch (const Error& e) {
        out.error(location_of(item, name), fmt::format("'plugin_paths': {}", e.what()));
      }
    }
  }
  search.insert(search.end(), default_paths.begin(), default_paths.end());
  registry.discover(search);

  // The tree first: it refuses alias bombs before anything walks them.
  try {
    pipeline->tree = std::make_unique<ConfigTree>(document, name, "");
  } catch (const Error& e) {
    out.error({name, 1, 1}, e.what());
    return result;
  }
  SchemaValidator validator(Schema::pipeline(), &registry, name, base_dir);
  validator.validate(document, out);
  if (out.has_errors()) return result;

  PipelineBuilder(*pipeline, registry, out).build();
  if (out.has_errors()) return result;
  result.pipeline = std::move(pipeline);
  return result;
}

}  // namespace tessera
