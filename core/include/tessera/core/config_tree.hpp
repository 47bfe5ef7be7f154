// The pipeline YAML as plugins see it: an immutable tree of tessera_config
// nodes built from a yaml-cpp node, each remembering its file position and
// its path ("sampling[2].k") for error messages. Built eagerly so that the
// host API can read it from any thread without locks.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "tessera/core/diagnostics.hpp"
#include "tessera/host.h"

// Definition of the opaque ABI type.
struct tessera_config {
  tessera_config_kind kind = TESSERA_CONFIG_NULL;
  std::string scalar;     // for scalars
  std::string path;       // e.g. "sampling[2].k"
  tessera::SourceLocation location;
  std::string location_text;  // "FILE:LINE:COL"
  std::vector<std::pair<std::string, std::unique_ptr<tessera_config>>> entries;  // map
  std::vector<std::unique_ptr<tessera_config>> items;                             // list
};

namespace tessera {

class ConfigTree {
 public:
  // `path` names the node within the pipeline (used in messages). Throws
  // tessera::Error when aliases expand the document past 2^20 nodes.
  ConfigTree(const YAML::Node& node, const std::string& file, const std::string& path);

  const tessera_config* root() const { return root_.get(); }

 private:
  std::unique_ptr<tessera_config> root_;
};

// Position of a yaml-cpp node as a 1-based SourceLocation.
SourceLocation location_of(const YAML::Node& node, const std::string& file);

}  // namespace tessera
