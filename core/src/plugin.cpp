#include "tessera/core/plugin.hpp"

#include <dlfcn.h>

#include <cmath>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/host_api.hpp"
#include "tessera/core/log.hpp"

namespace tessera {

std::string kinds_to_string(uint32_t kinds) {
  std::string out;
  auto add = [&](uint32_t bit, const char* name) {
    if ((kinds & bit) == 0) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(TESSERA_KIND_FORMAT, "format");
  add(TESSERA_KIND_COMPUTE, "compute");
  add(TESSERA_KIND_SAMPLER, "sampler");
  add(TESSERA_KIND_KERNEL, "kernel");
  return out.empty() ? "none" : out;
}

std::string ParamSpec::type_name() const {
  switch (type) {
    case TESSERA_PARAM_INT: return "integer";
    case TESSERA_PARAM_FLOAT: return "number";
    case TESSERA_PARAM_BOOL: return "boolean";
    case TESSERA_PARAM_STRING: return "string";
    case TESSERA_PARAM_STRING_LIST: return "list of strings";
    case TESSERA_PARAM_INT_MAP: return "map of token id to number";
  }
  return "unknown";
}

static std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

std::string ParamSpec::range_text() const {
  if (type != TESSERA_PARAM_INT && type != TESSERA_PARAM_FLOAT) return {};
  const bool has_min = std::isfinite(min_value);
  const bool has_max = std::isfinite(max_value);
  const char* lo = (flags & TESSERA_PARAM_MIN_EXCLUSIVE) ? "<" : "<=";
  const char* hi = (flags & TESSERA_PARAM_MAX_EXCLUSIVE) ? "<" : "<=";
  if (has_min && has_max)
    return fmt::format("{} {} {} {} {}", format_number(min_value), lo, name, hi, format_number(max_value));
  if (has_min) return fmt::format("{} {} {}", name, (flags & TESSERA_PARAM_MIN_EXCLUSIVE) ? ">" : ">=",
                                  format_number(min_value));
  if (has_max) return fmt::format("{} {} {}", name, hi, format_number(max_value));
  return {};
}

bool ParamSpec::in_range(double value) const {
  if (std::isfinite(min_value)) {
    if ((flags & TESSERA_PARAM_MIN_EXCLUSIVE) ? !(value > min_value) : !(value >= min_value)) return false;
  }
  if (std::isfinite(max_value)) {
    if ((flags & TESSERA_PARAM_MAX_EXCLUSIVE) ? !(value < max_value) : !(value <= max_value)) return false;
  }
  return true;
}

Plugin::~Plugin() {
  if (initialized_ && descriptor_ != nullptr && descriptor_->shutdown != nullptr)
    descriptor_->shutdown(state_);
}

const ParamSpec* Plugin::find_param(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

void* Plugin::state() {
  std::lock_guard lock(init_mutex_);
  if (initialized_) return state_;
  if (descriptor_->initialize != nullptr) {
    tessera_error err = make_plugin_error();
    const tessera_status status = descriptor_->initialize(host_api(), &state_, &err);
    if (status != TESSERA_OK)
      throw Error(fmt::format("plugin '{}' ({}) failed to initialize: {}: {}", name_, path_.string(),
                              tessera_status_name(status), err.message),
                  status);
  }
  initialized_ = true;
  return state_;
}

// Builds Plugin objects; a friend so Plugin's constructor stays private.
struct PluginLoader {
  static PluginLoadResult load(const std::filesystem::path& path);
};

namespace {

PluginLoadFailure failure(const std::filesystem::path& path, std::string message) {
  return PluginLoadFailure{path, fmt::format("{}: {}", path.string(), message)};
}

// Boost.DLL discards dlerror()'s text, which is the one useful part of a
// load failure ("undefined symbol: foo", "invalid ELF header"); ask dlopen
// again to recover it.
std::string dlopen_reason(const std::filesystem::path& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle != nullptr) {
    dlclose(handle);
    return "unknown reason";
  }
  const char* reason = dlerror();
  return reason ? reason : "unknown reason";
}

bool valid_plugin_name(const char* name) {
  if (name == nullptr || *name == '\0') return false;
  static const std::regex pattern("[a-z0-9_]+");
  return std::regex_match(name, pattern);
}

// Checks that a kind's table is present, big enough for ABI 1.0 and has its
// required functions. Returns an error message or "".
template <class Table>
std::string check_table(const Table* table, const char* kind, size_t min_size,
                        std::initializer_list<std::pair<const char*, bool>> required) {
  if (table == nullptr) return fmt::format("declares kind '{}' but its {} table is NULL", kind, kind);
  if (table->struct_size < min_size)
    return fmt::format("{} table struct_size {} is smaller than the ABI {}.0 minimum {}", kind,
                       table->struct_size, TESSERA_ABI_VERSION_MAJOR, min_size);
  for (const auto& [field, present] : required)
    if (!present) return fmt::format("{} table lacks required function '{}'", kind, field);
  return {};
}

std::string check_interfaces(const tessera_plugin_descriptor& d) {
  std::string problem;
  if ((d.kinds & TESSERA_KIND_FORMAT) && problem.empty()) {
    const auto* t = d.format;
    problem = check_table(t, "format", TESSERA_SIZE_THROUGH(tessera_format_interface, tensor_read),
                          {{"open", t && t->open}, {"close", t && t->close},
                           {"metadata_count", t && t->metadata_count}, {"metadata_at", t && t->metadata_at},
                           {"metadata_find", t && t->metadata_find},
                           {"metadata_array_get", t && t->metadata_array_get},
                           {"tensor_count", t && t->tensor_count}, {"tensor_info", t && t->tensor_info},
                           {"tensor_find", t && t->tensor_find}, {"tensor_read", t && t->tensor_read}});
  }
  if ((d.kinds & TESSERA_KIND_COMPUTE) && problem.empty()) {
    const auto* t = d.compute;
    problem = check_table(t, "compute", TESSERA_SIZE_THROUGH(tessera_compute_interface, native_context),
                          {{"device_count", t && t->device_count}, {"device_info", t && t->device_info},
                           {"backend_create", t && t->backend_create}, {"backend_free", t && t->backend_free},
                           {"supports_op", t && t->supports_op}, {"buffer_alloc", t && t->buffer_alloc},
                           {"buffer_free", t && t->buffer_free}, {"buffer_write", t && t->buffer_write},
                           {"buffer_read", t && t->buffer_read}, {"graph_execute", t && t->graph_execute},
                           {"synchronize", t && t->synchronize}});
  }
  if ((d.kinds & TESSERA_KIND_SAMPLER) && problem.empty()) {
    const auto* t = d.sampler;
    problem = check_table(t, "sampler", TESSERA_SIZE_THROUGH(tessera_sampler_interface, free),
                          {{"create", t && t->create}, {"apply", t && t->apply}, {"free", t && t->free}});
  }
  if ((d.kinds & TESSERA_KIND_KERNEL) && problem.empty()) {
    const auto* t = d.kernel;
    problem = check_table(t, "kernel", TESSERA_SIZE_THROUGH(tessera_kernel_interface, execute),
                          {{"create", t && t->create}, {"destroy", t && t->destroy},
                           {"execute", t && t->execute}, {"backend", t && t->backend}});
    if (problem.empty() && t->op_count > 0 && t->ops == nullptr) problem = "kernel table has op_count > 0 but ops is NULL";
    for (uint64_t i = 0; problem.empty() && i < t->op_count; ++i)
      if (t->ops[i] == nullptr || t->ops[i]->struct_size < TESSERA_SIZE_THROUGH(tessera_kernel_op, dtype))
        problem = fmt::format("kernel op #{} is NULL or too small", i);
  }
  return problem;
}

std::string copy_params(const tessera_plugin_descriptor& d, std::vector<ParamSpec>& out) {
  if (d.param_count > 0 && d.params == nullptr) return "param_count > 0 but params is NULL";
  if (d.param_count > 4096) return fmt::format("param_count {} is implausible (max 4096)", d.param_count);
  for (uint64_t i = 0; i < d.param_count; ++i) {
    const tessera_param_spec* p = d.params[i];
    if (p == nullptr || p->struct_size < TESSERA_SIZE_THROUGH(tessera_param_spec, description))
      return fmt::format("parameter #{} is NULL or its struct_size is too small", i);
    if (!valid_plugin_name(p->name)) return fmt::format("parameter #{} has an invalid name", i);
    if (p->type < TESSERA_PARAM_INT || p->type > TESSERA_PARAM_INT_MAP)
      return fmt::format("parameter '{}' has unknown type {}", p->name, static_cast<int>(p->type));
    ParamSpec spec;
    spec.name = p->name;
    spec.type = p->type;
    spec.flags = p->flags;
    spec.min_value = p->min_value;
    spec.max_value = p->max_value;
    spec.default_value = p->default_value ? p->default_value : "";
    spec.description = p->description ? p->description : "";
    out.push_back(std::move(spec));
  }
  return {};
}

}  // namespace

PluginLoadResult PluginLoader::load(const std::filesystem::path& path) {
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(path, fs_error))
    return failure(path, "not a regular file");

  std::unique_ptr<Plugin> plugin(new Plugin());
  plugin->path_ = path;
  boost::dll::fs::error_code ec;
  plugin->library_.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec || !plugin->library_.is_loaded())
    return failure(path, fmt::format("cannot load as a shared library: {}", dlopen_reason(path)));

  if (!plugin->library_.has(TESSERA_PLUGIN_ENTRY_SYMBOL))
    return failure(path, fmt::format("not a tessera plugin: it does not export the entry symbol '{}'",
                                     TESSERA_PLUGIN_ENTRY_SYMBOL));

  auto entry = plugin->library_.get<const tessera_plugin_descriptor*()>(TESSERA_PLUGIN_ENTRY_SYMBOL);
  const tessera_plugin_descriptor* d = entry();
  if (d == nullptr) return failure(path, fmt::format("'{}' returned NULL", TESSERA_PLUGIN_ENTRY_SYMBOL));

  // Only struct_size and the version fields are readable before the version
  // is known to match.
  if (d->struct_size < TESSERA_SIZE_THROUGH(tessera_plugin_descriptor, abi_minor))
    return failure(path, fmt::format("descriptor struct_size {} is too small to hold an ABI version",
                                     d->struct_size));
  if (d->abi_major != TESSERA_ABI_VERSION_MAJOR)
    return failure(path, fmt::format("ABI version mismatch: the plugin was built for tessera ABI {}.{}, "
                                     "this host implements ABI {}.{} (major versions must be equal; rebuild "
                                     "the plugin against the tessera {}.x SDK)",
                                     d->abi_major, d->abi_minor, TESSERA_ABI_VERSION_MAJOR,
                                     TESSERA_ABI_VERSION_MINOR, TESSERA_ABI_VERSION_MAJOR));
  if (d->struct_size < TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE)
    return failure(path, fmt::format("descriptor struct_size {} is smaller than the ABI {}.0 minimum {} "
                                     "(plugin claims ABI {}.{})",
                                     d->struct_size, TESSERA_ABI_VERSION_MAJOR,
                                     TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE, d->abi_major, d->abi_minor));
  if (!valid_plugin_name(d->name))
    return failure(path, "descriptor name is empty or not made of [a-z0-9_]");
  if (d->version == nullptr) return failure(path, fmt::format("plugin '{}' has no version string", d->name));
  const uint32_t known_kinds = TESSERA_KIND_FORMAT | TESSERA_KIND_COMPUTE | TESSERA_KIND_SAMPLER | TESSERA_KIND_KERNEL;
  if ((d->kinds & known_kinds) == 0)
    return failure(path, fmt::format("plugin '{}' declares no known kind (kinds = {:#x})", d->name, d->kinds));
  if (std::string problem = check_interfaces(*d); !problem.empty())
    return failure(path, fmt::format("plugin '{}': {}", d->name, problem));
  if (std::string problem = copy_params(*d, plugin->params_); !problem.empty())
    return failure(path, fmt::format("plugin '{}': {}", d->name, problem));

  plugin->descriptor_ = d;
  plugin->name_ = d->name;
  plugin->version_ = d->version;
  plugin->description_ = d->description ? d->description : "";
  plugin->abi_major_ = d->abi_major;
  plugin->abi_minor_ = d->abi_minor;
  plugin->kinds_ = d->kinds & known_kinds;
  // Fields added in ABI 1.1: read only when the plugin's struct has them.
  if (TESSERA_HAS_FIELD(d, tessera_plugin_descriptor, author) && d->author) plugin->author_ = d->author;
  if (TESSERA_HAS_FIELD(d, tessera_plugin_descriptor, license) && d->license) plugin->license_ = d->license;
  if (d->abi_minor > TESSERA_ABI_VERSION_MINOR)
    logger()->debug("{}: plugin '{}' uses ABI {}.{}, newer than this host's {}.{}; fields past {}.{} are ignored",
                    path.string(), plugin->name_, d->abi_major, d->abi_minor, TESSERA_ABI_VERSION_MAJOR,
                    TESSERA_ABI_VERSION_MINOR, TESSERA_ABI_VERSION_MAJOR, TESSERA_ABI_VERSION_MINOR);
  return plugin;
}

PluginLoadResult load_plugin(const std::filesystem::path& path) { return PluginLoader::load(path); }

}  // namespace tessera
