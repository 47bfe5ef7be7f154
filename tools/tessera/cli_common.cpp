#include "cli_common.hpp"

#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

namespace tessera::cli {

void apply_pipeline_overrides(YAML::Node& doc, const po::variables_map& vm) {
  if (!doc.IsMap()) return;
  if (vm.count("model")) doc["model"]["path"] = std::filesystem::absolute(vm["model"].as<std::string>()).string();
  if (vm.count("ctx-size")) doc["context"]["size"] = vm["ctx-size"].as<int64_t>();
  if (vm.count("batch")) doc["context"]["batch"] = vm["batch"].as<int64_t>();
  if (vm.count("no-mmap")) doc["model"]["mmap"] = false;
  if (vm.count("threads") && doc["compute"].IsSequence())
    for (auto entry : doc["compute"])
      if (entry["backend"] && entry["backend"].as<std::string>() == "cpu") entry["threads"] = vm["threads"].as<int64_t>();
}

void add_plugin_options(po::options_description& options) {
  options.add_options()("plugin-path", po::value<std::vector<std::string>>()->composing(),
                        "search this directory or plugin file first (repeatable)");
}

std::vector<std::filesystem::path> plugin_paths(const po::variables_map& vm) {
  std::vector<std::filesystem::path> paths;
  if (vm.count("plugin-path"))
    for (const auto& p : vm["plugin-path"].as<std::vector<std::string>>()) paths.emplace_back(p);
  return paths;
}

std::unique_ptr<PluginRegistry> load_registry(const po::variables_map& vm) {
  auto registry = std::make_unique<PluginRegistry>();
  std::vector<std::filesystem::path> paths = plugin_paths(vm);
  for (const auto& p : PluginRegistry::default_search_paths()) paths.push_back(p);
  registry->discover(paths);
  return registry;
}

bool parse_options(const std::string& command, const std::vector<std::string>& args,
                   const po::options_description& visible, po::variables_map& vm,
                   const po::options_description* hidden, const po::positional_options_description* positional) {
  po::options_description all;
  all.add(visible);
  if (hidden != nullptr) all.add(*hidden);
  try {
    auto parser = po::command_line_parser(args).options(all);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tessera " << command << ": " << e.what() << "\n\n" << visible;
    return false;
  }
  return true;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", value, units[unit]);
}

std::string format_count(uint64_t count) {
  const double v = static_cast<double>(count);
  if (v >= 1e9) return fmt::format("{:.2f} B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f} K", v / 1e3);
  return std::to_string(count);
}

Progress::Progress(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::update(std::size_t done, const std::string& item) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double fraction = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const std::string line = fmt::format("{}: {}/{} ({:3.0f}%) {:.1f}s {}", label_, done, total_, 100.0 * fraction,
                                       seconds, item);
  if (tty_) {
    std::cerr << "\r\033[K" << line << std::flush;
  } else if (std::chrono::duration<double>(now - last_).count() >= 5.0 || done == total_) {
    std::cerr << line << "\n";
    last_ = now;
  }
}

void Progress::finish() {
  if (tty_) std::cerr << "\n";
}

}  // namespace tessera::cli
