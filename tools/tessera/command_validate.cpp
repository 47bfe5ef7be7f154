// `tessera validate FILE...`: check pipelines without running them.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace tessera::cli {

int command_validate(const std::vector<std::string>& args) {
  po::options_description options("tessera validate PIPELINE.yaml... [options]");
  options.add_options()("help,h", "show this help")("json", "print the diagnostics as JSON");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("file", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("file", -1);
  po::variables_map vm;
  if (!parse_options("validate", args, options, vm, &hidden, &positional)) return 2;
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (!vm.count("file")) {
    std::cerr << "tessera validate: no pipeline file given\n" << options;
    return 2;
  }

  std::vector<std::filesystem::path> defaults = plugin_paths(vm);
  for (const auto& p : PluginRegistry::default_search_paths()) defaults.push_back(p);

  bool all_ok = true;
  nlohmann::json report = nlohmann::json::array();
  for (const auto& file : vm["file"].as<std::vector<std::string>>()) {
    PluginRegistry registry;  // per file: each pipeline has its own plugin_paths
    const PipelineLoadResult result = load_pipeline(file, registry, defaults);
    const bool ok = !result.diagnostics.has_errors();
    all_ok &= ok;
    if (vm.count("json")) {
      nlohmann::json diagnostics = nlohmann::json::array();
      for (const auto& d : result.diagnostics.all())
        diagnostics.push_back({{"severity", d.severity == Severity::Error ? "error" : "warning"},
                               {"file", d.location.file},
                               {"line", d.location.line},
                               {"column", d.location.column},
                               {"message", d.message}});
      report.push_back({{"file", file}, {"valid", ok}, {"diagnostics", diagnostics}});
    } else {
      std::cerr << result.diagnostics.to_string();
      if (ok) std::cout << file << ": valid\n";
    }
  }
  if (vm.count("json")) std::cout << report.dump(2) << "\n";
  return all_ok ? 0 : 1;
}

}  // namespace tessera::cli
