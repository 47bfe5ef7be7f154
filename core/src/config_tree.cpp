#include "tessera/core/config_tree.hpp"

#include <fmt/format.h>

#include "tessera/core/error.hpp"

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

// YAML aliases let a small file describe an exponentially large tree (the
// "billion laughs" attack); building it eagerly must stop early.
constexpr std::size_t kMaxNodes = 1u << 20;

std::unique_ptr<tessera_config> build(const YAML::Node& node, const std::string& file, const std::string& path,
                                      std::size_t& budget) {
  if (budget == 0)
    throw Error(fmt::format("{}: the document expands to more than {} nodes (aliases?); refusing to read it", file,
                            kMaxNodes),
                TESSERA_ERR_FORMAT);
  --budget;
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
        out->items.push_back(build(item, file, path + "[" + std::to_string(index++) + "]", budget));
      break;
    }
    case YAML::NodeType::Map:
      out->kind = TESSERA_CONFIG_MAP;
      for (const auto& entry : node) {
        const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string("<complex key>");
        out->entries.emplace_back(key, build(entry.second, file, path.empty() ? key : path + "." + key, budget));
      }
      break;
    default:
      out->kind = TESSERA_CONFIG_NULL;
      break;
  }
  return out;
}

}  // namespace

ConfigTree::ConfigTree(const YAML::Node& node, const std::string& file, const std::string& path) {
  std::size_t budget = kMaxNodes;
  root_ = build(node, file, path, budget);
}

}  // namespace tessera
