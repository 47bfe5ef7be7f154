// The pipeline schema (config/schema/pipeline.schema.yaml) and the validator that
// checks a YAML document against it, reporting every mistake with file,
// line, column and the expected form.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "tessera/core/diagnostics.hpp"

namespace tessera {

class PluginRegistry;

struct SchemaNode {
  enum class Type { Map, List, String, Int, Float, Bool, Enum, Layers };

  Type type = Type::String;
  bool required = false;
  std::string description;
  std::string default_value;
  // map
  std::vector<std::pair<std::string, std::unique_ptr<SchemaNode>>> fields;
  std::string plugin_params;  // field whose plugin's parameters fill the rest of the map
  // list
  std::unique_ptr<SchemaNode> items;
  std::size_t min_items = 0;
  // string
  uint32_t plugin_kind = 0;  // TESSERA_KIND_*; 0 = any string
  std::string pattern_text;
  std::optional<std::regex> pattern;
  // numbers
  std::optional<double> min, max;
  bool exclusive_min = false, exclusive_max = false;
  // enum
  std::vector<std::string> values;

  const SchemaNode* field(const std::string& name) const;
  std::vector<std::string> field_names() const;
  // "an integer with 1 <= value <= 65536", "one of 'f16', 'f32' or 'q8_0'", ...
  std::string expected_form() const;
};

class Schema {
 public:
  // Parses schema text; throws tessera::Error naming `origin` on a bad schema.
  static Schema parse(const std::string& text, const std::string& origin);
  // The schema compiled from config/schema/pipeline.schema.yaml.
  static const Schema& pipeline();

  const SchemaNode& root() const { return *root_; }

 private:
  std::shared_ptr<SchemaNode> root_;
};

// Checks a parsed pipeline against a schema. With a registry, `plugin:`
// strings must name loaded plugins and plugin parameters are checked against
// each plugin's declared specs; kernel plugins given as paths are loaded.
class SchemaValidator {
 public:
  SchemaValidator(const Schema& schema, PluginRegistry* registry, std::string file,
                  std::filesystem::path base_dir);
  void validate(const YAML::Node& document, Diagnostics& out);

 private:
  void check(const SchemaNode& schema, const YAML::Node& node, const std::string& path, Diagnostics& out);
  void check_map(const SchemaNode& schema, const YAML::Node& node, const std::string& path, Diagnostics& out);
  void check_plugin_params(const SchemaNode& schema, const YAML::Node& node, const std::string& path,
                           Diagnostics& out);
  void check_plugin_name(const SchemaNode& schema, const YAML::Node& node, const std::string& path,
                         Diagnostics& out);
  SourceLocation where(const YAML::Node& node) const;

  const Schema& schema_;
  PluginRegistry* registry_;
  std::string file_;
  std::filesystem::path base_dir_;
};

// Maps "format" / "compute" / "sampler" / "kernel" to TESSERA_KIND_*; 0 if unknown.
uint32_t plugin_kind_from_name(const std::string& name);
const char* plugin_kind_name(uint32_t kind);

// True when a `plugin:` value names a library file rather than a plugin.
bool names_plugin_file(const std::string& value);

}  // namespace tessera
