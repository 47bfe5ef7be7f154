// `tessera plugins`: what plugins were found, what they can do, and which
// files were refused and why.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "table.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace tessera::cli {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What a plugin can do, as short phrases; initialises the plugin to ask.
std::vector<std::string> capabilities(Plugin& plugin) {
  std::vector<std::string> caps;
  if (plugin.is(TESSERA_KIND_FORMAT)) caps.push_back(plugin.format()->tensor_map ? "mmap tensors" : "read tensors");
  if (plugin.is(TESSERA_KIND_SAMPLER))
    caps.push_back((plugin.sampler()->flags & TESSERA_SAMPLER_SELECTS) ? "selects token" : "filters candidates");
  if (plugin.is(TESSERA_KIND_KERNEL)) {
    std::string ops;
    for (uint64_t i = 0; i < plugin.kernel()->op_count; ++i) {
      const char* op = tessera_op_name(plugin.kernel()->ops[i]->op);
      const char* dtype = tessera_dtype_info(plugin.kernel()->ops[i]->dtype).name;
      ops += fmt::format("{}{}.{}", ops.empty() ? "" : " ", op ? op : "?", lower(dtype ? dtype : "?"));
    }
    caps.push_back(fmt::format("overrides {}: {}", plugin.kernel()->backend, ops));
  }
  if (plugin.is(TESSERA_KIND_COMPUTE)) {
    try {
      void* state = plugin.state();
      const int32_t n = plugin.compute()->device_count(state);
      for (int32_t d = 0; d < n; ++d) {
        tessera_device_info info{};
        info.struct_size = sizeof info;
        tessera_error err = make_plugin_error();
        if (plugin.compute()->device_info(state, d, &info, &err) != TESSERA_OK) {
          caps.push_back(fmt::format("device {}: {}", d, err.message));
          continue;
        }
        caps.push_back(fmt::format("device {}: {} ({:.1f} GiB)", d, info.name,
                                   static_cast<double>(info.memory_total) / (1024.0 * 1024.0 * 1024.0)));
      }
      if (n == 0) caps.push_back("no devices");
    } catch (const Error& e) {
      caps.push_back(e.what());
    }
  }
  if (!plugin.params().empty()) {
    std::string names;
    for (const auto& p : plugin.params()) names += (names.empty() ? "" : " ") + p.name;
    caps.push_back("params: " + names);
  }
  return caps;
}

nlohmann::json params_json(const Plugin& plugin) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : plugin.params()) {
    nlohmann::json j{{"name", p.name}, {"type", p.type_name()}, {"required", p.required()},
                     {"description", p.description}};
    if (!p.range_text().empty()) {
      j["range"] = p.range_text();
      if (std::isfinite(p.min_value)) j["min"] = p.min_value;
      if (std::isfinite(p.max_value)) j["max"] = p.max_value;
    }
    if (!p.default_value.empty()) j["default"] = p.default_value;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

int command_plugins(const std::vector<std::string>& args) {
  po::options_description options("tessera plugins [options]");
  options.add_options()("help,h", "show this help")("json", "print JSON instead of a table")(
      "params", "also list every plugin's parameters")("no-default-paths", "search only --plugin-path");
  add_plugin_options(options);
  po::variables_map vm;
  if (!parse_options("plugins", args, options, vm)) return 2;
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }

  std::vector<std::filesystem::path> paths = plugin_paths(vm);
  if (!vm.count("no-default-paths")) {
    auto defaults = PluginRegistry::default_search_paths();
    paths.insert(paths.end(), defaults.begin(), defaults.end());
  }
  PluginRegistry registry;
  registry.discover(paths);

  if (vm.count("json")) {
    nlohmann::json out;
    out["abi"] = fmt::format("{}.{}", TESSERA_ABI_VERSION_MAJOR, TESSERA_ABI_VERSION_MINOR);
    out["search_paths"] = nlohmann::json::array();
    for (const auto& p : registry.searched()) out["search_paths"].push_back(p.string());
    out["plugins"] = nlohmann::json::array();
    for (const Plugin* p : registry.plugins()) {
      Plugin& plugin = *registry.find_mutable(p->name());
      nlohmann::json kinds = nlohmann::json::array();
      for (uint32_t bit : {TESSERA_KIND_FORMAT, TESSERA_KIND_COMPUTE, TESSERA_KIND_SAMPLER, TESSERA_KIND_KERNEL})
        if (plugin.is(bit)) kinds.push_back(kinds_to_string(bit));
      out["plugins"].push_back({{"name", plugin.name()},
                                {"kinds", kinds},
                                {"version", plugin.version()},
                                {"abi", fmt::format("{}.{}", plugin.abi_major(), plugin.abi_minor())},
                                {"path", plugin.path().string()},
                                {"description", plugin.description()},
                                {"author", plugin.author()},
                                {"license", plugin.license()},
                                {"capabilities", capabilities(plugin)},
                                {"params", params_json(plugin)}});
    }
    out["refused"] = nlohmann::json::array();
    for (const auto& f : registry.failures()) out["refused"].push_back({{"path", f.path.string()}, {"reason", f.message}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  Table table({"NAME", "KIND", "VERSION", "ABI", "PATH", "CAPABILITIES"});
  for (const Plugin* p : registry.plugins()) {
    Plugin& plugin = *registry.find_mutable(p->name());
    std::string caps;
    for (const auto& c : capabilities(plugin)) caps += (caps.empty() ? "" : "; ") + c;
    table.add_row({plugin.name(), kinds_to_string(plugin.kinds()), plugin.version(),
                   fmt::format("{}.{}", plugin.abi_major(), plugin.abi_minor()), plugin.path().string(), caps});
  }
  table.print(std::cout);
  if (registry.plugins().empty()) {
    std::cout << "\nno plugins found; searched:";
    for (const auto& p : registry.searched()) std::cout << "\n  " << p.string();
    std::cout << "\n";
  }
  if (vm.count("params")) {
    for (const Plugin* plugin : registry.plugins()) {
      if (plugin->params().empty()) continue;
      std::cout << "\n" << plugin->name() << " parameters:\n";
      Table params({"NAME", "TYPE", "RANGE", "DEFAULT", "DESCRIPTION"});
      for (const auto& p : plugin->params())
        params.add_row({p.name + (p.required() ? " (required)" : ""), p.type_name(), p.range_text(), p.default_value,
                        p.description});
      params.print(std::cout);
    }
  }
  if (!registry.failures().empty()) {
    std::cout << "\nrefused:\n";
    for (const auto& f : registry.failures()) std::cout << "  " << f.message << "\n";
  }
  return 0;
}

}  // namespace tessera::cli
