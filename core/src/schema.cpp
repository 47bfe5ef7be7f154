#include "tessera/core/schema.hpp"

#include <cmath>

#include <fmt/format.h>

#include "tessera/core/config_tree.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/layer_range.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/scalar_parse.hpp"
#include "tessera/core/suggest.hpp"
#include "tessera/plugin.h"

namespace tessera {

extern const char* const kPipelineSchemaText;  // generated from config/schema/pipeline.schema.yaml

uint32_t plugin_kind_from_name(const std::string& name) {
  if (name == "format") return TESSERA_KIND_FORMAT;
  if (name == "compute") return TESSERA_KIND_COMPUTE;
  if (name == "sampler") return TESSERA_KIND_SAMPLER;
  if (name == "kernel") return TESSERA_KIND_KERNEL;
  return 0;
}

const char* plugin_kind_name(uint32_t kind) {
  switch (kind) {
    case TESSERA_KIND_FORMAT: return "format";
    case TESSERA_KIND_COMPUTE: return "compute";
    case TESSERA_KIND_SAMPLER: return "sampler";
    case TESSERA_KIND_KERNEL: return "kernel";
    default: return "any";
  }
}

bool names_plugin_file(const std::string& value) {
  return value.find('/') != std::string::npos || value.ends_with(".so");
}

// ---------------------------------------------------------------- SchemaNode

const SchemaNode* SchemaNode::field(const std::string& name) const {
  for (const auto& [key, node] : fields)
    if (key == name) return node.get();
  return nullptr;
}

std::vector<std::string> SchemaNode::field_names() const {
  std::vector<std::string> names;
  for (const auto& entry : fields) names.push_back(entry.first);
  return names;
}

static std::string number_range(const SchemaNode& s) {
  std::string lo = s.min ? fmt::format("{} {} ", *s.min, s.exclusive_min ? "<" : "<=") : "";
  std::string hi = s.max ? fmt::format(" {} {}", s.exclusive_max ? "<" : "<=", *s.max) : "";
  if (lo.empty() && hi.empty()) return {};
  return " with " + lo + "value" + hi;
}

std::string SchemaNode::expected_form() const {
  switch (type) {
    case Type::Map: return "a map";
    case Type::List: return min_items > 0 ? fmt::format("a list of at least {} item(s)", min_items) : "a list";
    case Type::String:
      if (plugin_kind != 0) return fmt::format("the name of a {} plugin", plugin_kind_name(plugin_kind));
      if (!pattern_text.empty()) return fmt::format("a string matching {}", pattern_text);
      return "a string";
    case Type::Int: return "an integer" + number_range(*this);
    case Type::Float: return "a number" + number_range(*this);
    case Type::Bool: return "true or false";
    case Type::Enum: return "one of " + quoted_list(values);
    case Type::Layers: return "a layer range such as 0-19, 20- (to the last layer), 7 or all";
  }
  return "a value";
}

// ---------------------------------------------------------------- Schema parsing

namespace {

std::unique_ptr<SchemaNode> parse_node(const YAML::Node& yaml, const std::string& origin, const std::string& path) {
  auto fail = [&](const std::string& what) -> Error {
    return Error(fmt::format("{}: schema node '{}': {}", location_of(yaml, origin).to_string(), path, what),
                 TESSERA_ERR_FORMAT);
  };
  if (!yaml.IsMap()) throw fail("must be a map");
  auto node = std::make_unique<SchemaNode>();
  const std::string type = yaml["type"] ? yaml["type"].as<std::string>() : "";
  using T = SchemaNode::Type;
  if (type == "map") node->type = T::Map;
  else if (type == "list") node->type = T::List;
  else if (type == "string") node->type = T::String;
  else if (type == "int") node->type = T::Int;
  else if (type == "float") node->type = T::Float;
  else if (type == "bool") node->type = T::Bool;
  else if (type == "enum") node->type = T::Enum;
  else if (type == "layers") node->type = T::Layers;
  else throw fail(fmt::format("unknown type '{}'", type));

  for (const auto& entry : yaml) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key == "type") continue;
    if (key == "required") node->required = value.as<bool>();
    else if (key == "description") node->description = value.as<std::string>();
    else if (key == "default") node->default_value = value.as<std::string>();
    else if (key == "fields" && node->type == T::Map) {
      for (const auto& f : value)
        node->fields.emplace_back(f.first.as<std::string>(),
                                  parse_node(f.second, origin, path + "." + f.first.as<std::string>()));
    } else if (key == "plugin_params" && node->type == T::Map) node->plugin_params = value.as<std::string>();
    else if (key == "items" && node->type == T::List) node->items = parse_node(value, origin, path + "[]");
    else if (key == "min_items" && node->type == T::List) node->min_items = value.as<std::size_t>();
    else if (key == "plugin" && node->type == T::String) {
      node->plugin_kind = plugin_kind_from_name(value.as<std::string>());
      if (node->plugin_kind == 0) throw fail("unknown plugin kind '" + value.as<std::string>() + "'");
    } else if (key == "pattern" && node->type == T::String) {
      node->pattern_text = value.as<std::string>();
      node->pattern.emplace(node->pattern_text);
    } else if (key == "min" && (node->type == T::Int || node->type == T::Float)) node->min = value.as<double>();
    else if (key == "max" && (node->type == T::Int || node->type == T::Float)) node->max = value.as<double>();
    else if (key == "exclusive_min") node->exclusive_min = value.as<bool>();
    else if (key == "exclusive_max") node->exclusive_max = value.as<bool>();
    else if (key == "values" && node->type == T::Enum) node->values = value.as<std::vector<std::string>>();
    else throw fail(fmt::format("key '{}' is not allowed for type '{}'", key, type));
  }
  if (node->type == T::List && !node->items) throw fail("a list needs 'items'");
  if (!node->plugin_params.empty() && node->field(node->plugin_params) == nullptr)
    throw fail("plugin_params names field '" + node->plugin_params + "' that is not in 'fields'");
  return node;
}

}  // namespace

Schema Schema::parse(const std::string& text, const std::string& origin) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}: invalid schema YAML: {}", origin, e.what()), TESSERA_ERR_FORMAT);
  }
  if (!doc["root"]) throw Error(origin + ": schema has no 'root'", TESSERA_ERR_FORMAT);
  Schema schema;
  try {
    schema.root_ = parse_node(doc["root"], origin, "root");
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}: bad schema value: {}", origin, e.what()), TESSERA_ERR_FORMAT);
  }
  return schema;
}

const Schema& Schema::pipeline() {
  static const Schema schema = parse(kPipelineSchemaText, "config/schema/pipeline.schema.yaml");
  return schema;
}

// ---------------------------------------------------------------- validation

SchemaValidator::SchemaValidator(const Schema& schema, PluginRegistry* registry, std::string file,
                                 std::filesystem::path base_dir)
    : schema_(schema), registry_(registry), file_(std::move(file)), base_dir_(std::move(base_dir)) {}

SourceLocation SchemaValidator::where(const YAML::Node& node) const { return location_of(node, file_); }

void SchemaValidator::validate(const YAML::Node& document, Diagnostics& out) {
  if (!document.IsDefined() || document.IsNull()) {
    out.error({file_, 1, 1}, "the pipeline is empty; expected a map with at least 'model' and 'compute'");
    return;
  }
  check(schema_.root(), document, "", out);
}

static std::string display(const std::string& path) { return path.empty() ? "the pipeline" : "'" + path + "'"; }

static std::string got(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "nothing (null)";
}

void SchemaValidator::check(const SchemaNode& schema, const YAML::Node& node, const std::string& path,
                            Diagnostics& out) {
  using T = SchemaNode::Type;
  auto mismatch = [&] {
    out.error(where(node), fmt::format("{} must be {}, got {}", display(path), schema.expected_form(), got(node)));
  };
  switch (schema.type) {
    case T::Map:
      if (!node.IsMap()) return mismatch();
      check_map(schema, node, path, out);
      return;
    case T::List: {
      if (!node.IsSequence()) return mismatch();
      if (node.size() < schema.min_items)
        out.error(where(node), fmt::format("{} has {} item(s); expected {}", display(path), node.size(),
                                           schema.expected_form()));
      std::size_t index = 0;
      for (const auto& item : node) check(*schema.items, item, fmt::format("{}[{}]", path, index++), out);
      return;
    }
    case T::String:
      if (!node.IsScalar()) return mismatch();
      if (schema.pattern && !std::regex_match(node.Scalar(), *schema.pattern)) return mismatch();
      if (schema.plugin_kind != 0) check_plugin_name(schema, node, path, out);
      return;
    case T::Int:
    case T::Float: {
      if (!node.IsScalar()) return mismatch();
      std::optional<double> value;
      if (schema.type == T::Int) {
        if (auto i = parse_int(node.Scalar())) value = static_cast<double>(*i);
      } else {
        value = parse_double(node.Scalar());
      }
      if (!value) return mismatch();
      const bool below = schema.min && (schema.exclusive_min ? !(*value > *schema.min) : !(*value >= *schema.min));
      const bool above = schema.max && (schema.exclusive_max ? !(*value < *schema.max) : !(*value <= *schema.max));
      if (below || above)
        out.error(where(node), fmt::format("{} is {}, out of range: expected {}", display(path), node.Scalar(),
                                           schema.expected_form()));
      return;
    }
    case T::Bool:
      if (!node.IsScalar() || !parse_bool(node.Scalar())) mismatch();
      return;
    case T::Enum:
      if (!node.IsScalar()) return mismatch();
      for (const auto& v : schema.values)
        if (v == node.Scalar()) return;
      out.error(where(node), fmt::format("{} is '{}'; expected {}{}", display(path), node.Scalar(),
                                         schema.expected_form(), did_you_mean(node.Scalar(), schema.values)));
      return;
    case T::Layers:
      if (!node.IsScalar() || !parse_layer_range(node.Scalar())) mismatch();
      return;
  }
}

void SchemaValidator::check_map(const SchemaNode& schema, const YAML::Node& node, const std::string& path,
                                Diagnostics& out) {
  const std::vector<std::string> known = schema.field_names();
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      out.error(where(entry.first), fmt::format("keys of {} must be plain words", display(path)));
      continue;
    }
    const std::string key = entry.first.Scalar();
    const std::string child_path = path.empty() ? key : path + "." + key;
    if (const SchemaNode* field = schema.field(key)) {
      check(*field, entry.second, child_path, out);
    } else if (schema.plugin_params.empty()) {
      out.error(where(entry.first), fmt::format("unknown key '{}' in {}{}; expected one of {}", key, display(path),
                                                did_you_mean(key, known), quoted_list(known)));
    }
  }
  for (const auto& [key, field] : schema.fields)
    if (field->required && !node[key])
      out.error(where(node), fmt::format("{} is missing the required key '{}' ({}); expected {}", display(path), key,
                                         field->description, field->expected_form()));
  if (!schema.plugin_params.empty()) check_plugin_params(schema, node, path, out);
}

void SchemaValidator::check_plugin_name(const SchemaNode& schema, const YAML::Node& node, const std::string& path,
                                        Diagnostics& out) {
  if (registry_ == nullptr) return;
  const std::string value = node.Scalar();
  const char* kind = plugin_kind_name(schema.plugin_kind);
  if (names_plugin_file(value)) {
    const std::filesystem::path file = base_dir_ / value;
    try {
      const Plugin& plugin = registry_->load_file(file);
      if (!plugin.is(schema.plugin_kind))
        out.error(where(node), fmt::format("{}: '{}' is plugin '{}' of kind {}, expected a {} plugin", display(path),
                                           value, plugin.name(), kinds_to_string(plugin.kinds()), kind));
    } catch (const Error& e) {
      out.error(where(node), fmt::format("{}: {}", display(path), e.what()));
    }
    return;
  }
  if (registry_->find(value, schema.plugin_kind) != nullptr) return;
  if (const Plugin* other = registry_->find(value)) {
    out.error(where(node), fmt::format("{}: plugin '{}' ({}) is a {} plugin, expected a {} plugin", display(path),
                                       value, other->path().string(), kinds_to_string(other->kinds()), kind));
    return;
  }
  const auto names = registry_->names_of_kind(schema.plugin_kind);
  std::string searched;
  for (const auto& p : registry_->searched()) searched += (searched.empty() ? "" : ", ") + p.string();
  out.error(where(node), fmt::format("{}: no {} plugin named '{}' is installed{}; available: {} (searched {})",
                                     display(path), kind, value, did_you_mean(value, names), quoted_list(names),
                                     searched.empty() ? "nothing" : searched));
}

// Keys of a map that are not schema fields are parameters of the plugin the
// map names; check them against the plugin's own parameter specs.
void SchemaValidator::check_plugin_params(const SchemaNode& schema, const YAML::Node& node, const std::string& path,
                                          Diagnostics& out) {
  const YAML::Node name_node = node[schema.plugin_params];
  if (registry_ == nullptr || !name_node || !name_node.IsScalar()) return;
  const SchemaNode* name_schema = schema.field(schema.plugin_params);
  const std::string value = name_node.Scalar();
  const Plugin* plugin = nullptr;
  if (names_plugin_file(value)) {
    try {
      plugin = &registry_->load_file(base_dir_ / value);
    } catch (const Error&) {
      return;  // reported by check_plugin_name
    }
  } else {
    plugin = registry_->find(value, name_schema->plugin_kind);
  }
  if (plugin == nullptr) return;  // reported by check_plugin_name

  std::vector<std::string> allowed = schema.field_names();
  for (const auto& p : plugin->params()) allowed.push_back(p.name);

  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || schema.field(entry.first.Scalar()) != nullptr) continue;
    const std::string key = entry.first.Scalar();
    const std::string child_path = path.empty() ? key : path + "." + key;
    const ParamSpec* spec = plugin->find_param(key);
    if (spec == nullptr) {
      out.error(where(entry.first),
                fmt::format("unknown key '{}' in {} for {} plugin '{}'{}; expected one of {}", key, display(path),
                            kinds_to_string(plugin->kinds()), plugin->name(), did_you_mean(key, allowed),
                            quoted_list(allowed)));
      continue;
    }
    const YAML::Node& v = entry.second;
    const std::string range = spec->range_text();
    const std::string expected = spec->type_name() + (range.empty() ? "" : " with " + range);
    auto bad = [&] {
      out.error(where(v), fmt::format("{} must be {}, got {}", display(child_path), expected, got(v)));
    };
    switch (spec->type) {
      case TESSERA_PARAM_INT:
      case TESSERA_PARAM_FLOAT: {
        std::optional<double> number;
        if (v.IsScalar()) {
          if (spec->type == TESSERA_PARAM_INT) {
            if (auto i = parse_int(v.Scalar())) number = static_cast<double>(*i);
          } else {
            number = parse_double(v.Scalar());
          }
        }
        if (!number) {
          bad();
        } else if (!spec->in_range(*number)) {
          out.error(where(v), fmt::format("{} is {}, out of range: expected {}", display(child_path), v.Scalar(),
                                          expected));
        }
        break;
      }
      case TESSERA_PARAM_BOOL:
        if (!v.IsScalar() || !parse_bool(v.Scalar())) bad();
        break;
      case TESSERA_PARAM_STRING:
        if (!v.IsScalar()) bad();
        break;
      case TESSERA_PARAM_STRING_LIST:
        if (!v.IsSequence()) {
          bad();
        } else {
          for (const auto& item : v)
            if (!item.IsScalar()) {
              out.error(where(item), fmt::format("every item of {} must be a string", display(child_path)));
              break;
            }
        }
        break;
      case TESSERA_PARAM_INT_MAP:
        if (!v.IsMap()) {
          bad();
        } else {
          for (const auto& item : v)
            if (!item.first.IsScalar() || !parse_int(item.first.Scalar()) || !item.second.IsScalar() ||
                !parse_double(item.second.Scalar())) {
              out.error(where(item.first), fmt::format("entries of {} must be <token id>: <number>", display(child_path)));
              break;
            }
        }
        break;
    }
  }
  for (const auto& p : plugin->params())
    if (p.required() && !node[p.name])
      out.error(where(node), fmt::format("{} is missing the required parameter '{}' of plugin '{}' ({}); expected {}",
                                         display(path), p.name, plugin->name(), p.description, p.type_name()));
}

}  // namespace tessera
