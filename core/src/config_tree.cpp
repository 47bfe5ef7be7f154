#include "tessera/core/config_tree.hpp"

namespace tessera {

SourceLocation location_of(const YAML::Node& node, const std::string& file) {
  SourceLocation loc{file, 0, 0};
  if (node.IsDefined()) {
    const YAML::Mark mark = node.Mark();
    if (mark.line >= 0) {
      loc.line = mark.line + 1;
      loc.column = mark.column + 1;
    }
  }
  return loc;
}

namespace {

std::unique_ptr<tessera_config> build(const YAML::Node& node, const std::string& file,
                                      const std::string& path) {
  auto out = std::make_unique<tessera_config>();
  out->path = path;
  out->location = location_of(node, file);
  out->location_text = out->location.to_string();
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      out->kind = TESSERA_CONFIG_SCALAR;
      out->scalar = node.Scalar();
      break;
    case YAML::NodeType::Sequence: {
      out->kind = TESSERA_CONFIG_LIST;
      std::size_t index = 0;
      for (const auto& item : node)
        out->items.push_back(build(item, file, path + "[" + std::to_string(index++) + "]"));
      break;
    }
    case YAML::NodeType::Map:
      out->kind = TESSERA_CONFIG_MAP;
      for (const auto& entry : node) {
        const std::string key = entry.first.as<std::string>();
        out->entries.emplace_back(key, build(entry.second, file, path.empty() ? key : path + "." + key));
      }
      break;
    default:
      out->kind = TESSERA_CONFIG_NULL;
      break;
  }
  return out;
}

}  // namespace

ConfigTree::ConfigTree(const YAML::Node& node, const std::string& file, const std::string& path)
    : root_(build(node, file, path)) {}

}  // namespace tessera
