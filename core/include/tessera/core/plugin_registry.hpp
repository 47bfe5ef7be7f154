// Discovers plugin libraries in search paths and keeps the loaded ones by
// name. Files that are not valid plugins are recorded as failures (with one
// message each), never thrown and never fatal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/plugin.hpp"

namespace tessera {

class PluginRegistry {
 public:
  // Directories searched when nothing else is given, in priority order:
  // each entry of $TESSERA_PLUGIN_PATH (':'-separated), the plugin directory
  // next to libtessera (<libdir>/tessera/plugins, in the build tree and when
  // installed), and the configured install prefix.
  static std::vector<std::filesystem::path> default_search_paths();

  // Loads every shared library in each path (a directory, scanned without
  // recursion, or a single file). Earlier paths win: a plugin whose name is
  // already taken is refused as a duplicate. The same file seen twice is
  // silently skipped.
  void discover(const std::vector<std::filesystem::path>& paths);

  // Loads one explicitly named library (e.g. a `kernels:` entry). Throws
  // tessera::Error with the failure message when it is not a valid plugin.
  const Plugin& load_file(const std::filesystem::path& path);

  const Plugin* find(std::string_view name) const;
  // The plugin named `name` that provides `kind` (TESSERA_KIND_*), or NULL.
  const Plugin* find(std::string_view name, uint32_t kind) const;
  Plugin* find_mutable(std::string_view name);

  // Loaded plugins sorted by name.
  std::vector<const Plugin*> plugins() const;
  std::vector<std::string> names_of_kind(uint32_t kind) const;
  const std::vector<PluginLoadFailure>& failures() const { return failures_; }
  // Paths actually scanned, in order (for messages).
  const std::vector<std::filesystem::path>& searched() const { return searched_; }

 private:
  // Returns the loaded plugin, or NULL after recording a failure.
  const Plugin* load_one(const std::filesystem::path& path);

  std::vector<std::unique_ptr<Plugin>> plugins_;
  std::vector<PluginLoadFailure> failures_;
  std::vector<std::filesystem::path> searched_;
  std::vector<std::filesystem::path> seen_files_;
};

}  // namespace tessera
