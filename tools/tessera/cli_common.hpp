// Pieces shared by the subcommands: plugin search options, option parsing
// with uniform errors, byte formatting and a progress line.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <yaml-cpp/yaml.h>

#include "tessera/core/plugin_registry.hpp"

namespace tessera::cli {

namespace po = boost::program_options;

// Adds --plugin-path (repeatable).
void add_plugin_options(po::options_description& options);

// A registry over --plugin-path, then the default search paths.
std::unique_ptr<PluginRegistry> load_registry(const po::variables_map& vm);
std::vector<std::filesystem::path> plugin_paths(const po::variables_map& vm);

// Parses `args` for `command`; on a usage error prints it with the options
// and returns false (exit status 2). `positional` names the positional
// option, if any.
bool parse_options(const std::string& command, const std::vector<std::string>& args,
                   const po::options_description& visible, po::variables_map& vm,
                   const po::options_description* hidden = nullptr,
                   const po::positional_options_description* positional = nullptr);

// --no-mmap's help, the same for every command that loads a model.
inline constexpr const char* kNoMmapHelp =
    "copy the weights into the cpu backend's memory instead of using the mapped file (model.mmap: false)";

// The pipeline overrides the commands share, applied to the YAML before it
// is validated (so they are checked like the file itself), each only where
// the command defines the option and it was given: -m (relative to the
// working directory, not the file), -c, -b, --no-mmap, and -t on every cpu
// compute entry.
void apply_pipeline_overrides(YAML::Node& doc, const po::variables_map& vm);

// "1.5 MiB", "812 B"
std::string format_bytes(uint64_t bytes);
// "6.74 B", "292.4 K"
std::string format_count(uint64_t count);

// A one-line progress indicator on stderr: rewritten in place on a terminal,
// a line every few seconds otherwise (CI logs).
class Progress {
 public:
  Progress(std::string label, std::size_t total);
  void update(std::size_t done, const std::string& item);
  void finish();

 private:
  std::string label_;
  std::size_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace tessera::cli
