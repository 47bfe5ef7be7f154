#include "tessera/core/plugin_registry.hpp"

#include <algorithm>
#include <cstdlib>

#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/log.hpp"

namespace tessera {
namespace fs = std::filesystem;

namespace {

fs::path canonical_or_self(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p : c;
}

bool looks_like_shared_library(const fs::path& p) {
  const std::string name = p.filename().string();
  return p.extension() == ".so" || name.find(".so.") != std::string::npos;
}

}  // namespace

std::vector<fs::path> PluginRegistry::default_search_paths() {
  std::vector<fs::path> paths;
  if (const char* env = std::getenv("TESSERA_PLUGIN_PATH"); env != nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string_view item = rest.substr(0, colon);
      if (!item.empty()) paths.emplace_back(std::string(item));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  // Where libtessera itself lives: <libdir>/libtessera.so -> <libdir>/tessera/plugins.
  boost::dll::fs::error_code ec;
  const auto self = boost::dll::this_line_location(ec);
  if (!ec) paths.push_back(fs::path(self.string()).parent_path() / "tessera" / "plugins");
  paths.emplace_back(TESSERA_INSTALL_PLUGIN_DIR);
  return paths;
}

void PluginRegistry::discover(const std::vector<fs::path>& paths) {
  for (const auto& raw : paths) {
    const fs::path path = canonical_or_self(raw);
    if (std::find(searched_.begin(), searched_.end(), path) != searched_.end()) continue;
    searched_.push_back(path);
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
      load_one(path);
      continue;
    }
    if (!fs::is_directory(path, ec)) {
      logger()->debug("plugin search path {} does not exist", path.string());
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, fs::directory_options::skip_permission_denied, ec))
      if (entry.is_regular_file(ec) && looks_like_shared_library(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());  // deterministic duplicate resolution
    for (const auto& file : files) load_one(file);
  }
}

const Plugin* PluginRegistry::load_one(const fs::path& raw) {
  const fs::path path = canonical_or_self(raw);
  for (const auto& plugin : plugins_)
    if (plugin->path() == path) return plugin.get();
  if (std::find(seen_files_.begin(), seen_files_.end(), path) != seen_files_.end()) return nullptr;
  seen_files_.push_back(path);

  PluginLoadResult result = load_plugin(path);
  if (auto* failed = std::get_if<PluginLoadFailure>(&result)) {
    logger()->warn("{}", failed->message);
    failures_.push_back(std::move(*failed));
    return nullptr;
  }
  auto plugin = std::move(std::get<std::unique_ptr<Plugin>>(result));
  if (const Plugin* existing = find(plugin->name())) {
    PluginLoadFailure dup{path, fmt::format("{}: duplicate plugin name '{}' (version {}, ABI {}.{}): already "
                                            "loaded from {} (version {}, ABI {}.{}); this file is ignored",
                                            path.string(), plugin->name(), plugin->version(), plugin->abi_major(),
                                            plugin->abi_minor(), existing->path().string(), existing->version(),
                                            existing->abi_major(), existing->abi_minor())};
    logger()->warn("{}", dup.message);
    failures_.push_back(std::move(dup));
    return nullptr;
  }
  logger()->debug("loaded plugin '{}' {} ({}) from {}", plugin->name(), plugin->version(),
                  kinds_to_string(plugin->kinds()), path.string());
  plugins_.push_back(std::move(plugin));
  return plugins_.back().get();
}

const Plugin& PluginRegistry::load_file(const fs::path& path) {
  const std::size_t failures_before = failures_.size();
  if (const Plugin* plugin = load_one(path)) return *plugin;
  if (failures_.size() > failures_before) throw Error(failures_.back().message, TESSERA_ERR_NOT_FOUND);
  // Seen before and failed then: report that failure again.
  const fs::path canonical = canonical_or_self(path);
  for (const auto& f : failures_)
    if (f.path == canonical) throw Error(f.message, TESSERA_ERR_NOT_FOUND);
  throw Error(fmt::format("{}: could not be loaded as a plugin", path.string()), TESSERA_ERR_NOT_FOUND);
}

const Plugin* PluginRegistry::find(std::string_view name) const {
  for (const auto& plugin : plugins_)
    if (plugin->name() == name) return plugin.get();
  return nullptr;
}

const Plugin* PluginRegistry::find(std::string_view name, uint32_t kind) const {
  const Plugin* plugin = find(name);
  return plugin != nullptr && plugin->is(kind) ? plugin : nullptr;
}

Plugin* PluginRegistry::find_mutable(std::string_view name) {
  for (auto& plugin : plugins_)
    if (plugin->name() == name) return plugin.get();
  return nullptr;
}

std::vector<const Plugin*> PluginRegistry::plugins() const {
  std::vector<const Plugin*> out;
  for (const auto& plugin : plugins_) out.push_back(plugin.get());
  std::sort(out.begin(), out.end(), [](const Plugin* a, const Plugin* b) { return a->name() < b->name(); });
  return out;
}

std::vector<std::string> PluginRegistry::names_of_kind(uint32_t kind) const {
  std::vector<std::string> out;
  for (const Plugin* plugin : plugins())
    if (plugin->is(kind)) out.push_back(plugin->name());
  return out;
}

}  // namespace tessera
