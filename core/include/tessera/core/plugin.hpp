// One plugin library loaded through Boost.DLL, its descriptor checked against
// the ABI rules of sdk/include/tessera/version.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "tessera/plugin.h"

namespace tessera {

// Kind bits as text: "format", "compute,kernel", ...
std::string kinds_to_string(uint32_t kinds);

// A parameter a plugin accepts, copied out of its descriptor.
struct ParamSpec {
  std::string name;
  tessera_param_type type = TESSERA_PARAM_FLOAT;
  uint32_t flags = 0;
  double min_value = 0;
  double max_value = 0;
  std::string default_value;  // empty when none
  std::string description;

  bool required() const { return (flags & TESSERA_PARAM_REQUIRED) != 0; }
  std::string type_name() const;
  // "0 <= x <= 1", "> 0", ... ; empty for non-numeric types.
  std::string range_text() const;
  bool in_range(double value) const;
};

class Plugin {
 public:
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  ~Plugin();

  const std::filesystem::path& path() const { return path_; }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::string& description() const { return description_; }
  const std::string& author() const { return author_; }    // empty: not stated or ABI 1.0
  const std::string& license() const { return license_; }  // empty: not stated or ABI 1.0
  uint16_t abi_major() const { return abi_major_; }
  uint16_t abi_minor() const { return abi_minor_; }
  uint32_t kinds() const { return kinds_; }
  bool is(uint32_t kind) const { return (kinds_ & kind) != 0; }
  const std::vector<ParamSpec>& params() const { return params_; }
  const ParamSpec* find_param(const std::string& name) const;

  const tessera_format_interface* format() const { return descriptor_->format; }
  const tessera_compute_interface* compute() const { return descriptor_->compute; }
  const tessera_sampler_interface* sampler() const { return descriptor_->sampler; }
  const tessera_kernel_interface* kernel() const { return descriptor_->kernel; }

  // The plugin's state, calling its `initialize` with the host API on first
  // use. Throws tessera::Error naming the plugin when initialisation fails.
  void* state();

 private:
  friend struct PluginLoader;
  Plugin() = default;

  // Declared first so it is destroyed last: the library must stay mapped
  // while anything points into it.
  boost::dll::shared_library library_;
  std::filesystem::path path_;
  const tessera_plugin_descriptor* descriptor_ = nullptr;
  std::string name_, version_, description_, author_, license_;
  uint16_t abi_major_ = 0, abi_minor_ = 0;
  uint32_t kinds_ = 0;
  std::vector<ParamSpec> params_;

  std::mutex init_mutex_;
  bool initialized_ = false;
  void* state_ = nullptr;
};

// Why a file was not loaded as a plugin: one message naming the file.
struct PluginLoadFailure {
  std::filesystem::path path;
  std::string message;
};

using PluginLoadResult = std::variant<std::unique_ptr<Plugin>, PluginLoadFailure>;

// Loads and checks one library. Never throws for a bad file; the failure
// says what was wrong (cannot load, no entry symbol, ABI mismatch, ...).
PluginLoadResult load_plugin(const std::filesystem::path& path);

}  // namespace tessera
