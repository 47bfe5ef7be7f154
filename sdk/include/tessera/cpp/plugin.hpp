// tessera/cpp/plugin.hpp - optional header-only C++ helpers for plugin
// authors. Nothing here crosses the ABI: it wraps the C tables so plugin code
// can use exceptions and std::string internally and still present plain C at
// the boundary.
#pragma once

#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.h"

namespace tessera::sdk {

// An exception carrying a tessera_status; `guarded` turns it back into one.
class Error : public std::runtime_error {
 public:
  Error(tessera_status code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  tessera_status code() const noexcept { return code_; }

 private:
  tessera_status code_;
};

// Runs `body` and converts any exception into a status plus message, so no
// exception ever crosses the C boundary. Use at every entry point.
template <class Body>
tessera_status guarded(tessera_error* err, Body&& body) noexcept {
  try {
    body();
    return TESSERA_OK;
  } catch (const Error& e) {
    return tessera_error_set(err, e.code(), "%s", e.what());
  } catch (const std::bad_alloc&) {
    return tessera_error_set(err, TESSERA_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return tessera_error_set(err, TESSERA_ERR_INTERNAL, "%s", e.what());
  } catch (...) {
    return tessera_error_set(err, TESSERA_ERR_INTERNAL, "unknown exception");
  }
}

// Logging into the host's logger (no-op when the host gave no table).
class Log {
 public:
  Log() = default;
  Log(const tessera_host_api* host, const char* plugin_name)
      : host_(host), name_(plugin_name) {}
  bool enabled(tessera_log_level level) const {
    return host_ != nullptr && host_->log != nullptr &&
           (host_->log_enabled == nullptr || host_->log_enabled(level) != 0);
  }
  void write(tessera_log_level level, const std::string& message) const {
    if (enabled(level)) host_->log(level, name_, message.c_str());
  }
  void debug(const std::string& m) const { write(TESSERA_LOG_DEBUG, m); }
  void info(const std::string& m) const { write(TESSERA_LOG_INFO, m); }
  void warn(const std::string& m) const { write(TESSERA_LOG_WARN, m); }
  void error(const std::string& m) const { write(TESSERA_LOG_ERROR, m); }

 private:
  const tessera_host_api* host_ = nullptr;
  const char* name_ = "plugin";
};

// Typed read access to a plugin's YAML node through the host API. Accessors
// throw Error (with the YAML location) on a type mismatch.
class Config {
 public:
  Config(const tessera_host_api* host, const tessera_config* node)
      : host_(host), node_(node) {}

  bool has(const char* key) const { return child(key) != nullptr; }

  std::optional<int64_t> get_int(const char* key) const {
    return read<int64_t>(key, host_ ? host_->config_as_int : nullptr);
  }
  std::optional<double> get_double(const char* key) const {
    return read<double>(key, host_ ? host_->config_as_double : nullptr);
  }
  std::optional<bool> get_bool(const char* key) const {
    auto v = read<int>(key, host_ ? host_->config_as_bool : nullptr);
    if (!v) return std::nullopt;
    return *v != 0;
  }
  std::optional<std::string> get_string(const char* key) const {
    auto v = read<const char*>(key, host_ ? host_->config_as_string : nullptr);
    if (!v) return std::nullopt;
    return std::string(*v);
  }
  // A list of strings; empty when the key is absent.
  std::vector<std::string> get_string_list(const char* key) const {
    std::vector<std::string> out;
    const tessera_config* list = child(key);
    if (list == nullptr) return out;
    for (size_t i = 0; i < host_->config_size(list); ++i) {
      const char* s = nullptr;
      tessera_error err;
      tessera_error_init(&err);
      if (host_->config_as_string(host_->config_at(list, i), &s, &err) != TESSERA_OK)
        throw Error(err.code, err.message);
      out.emplace_back(s);
    }
    return out;
  }
  // Pairs of (key, value) of a map whose values are numbers.
  std::vector<std::pair<std::string, double>> get_number_map(const char* key) const {
    std::vector<std::pair<std::string, double>> out;
    const tessera_config* map = child(key);
    if (map == nullptr) return out;
    for (size_t i = 0; i < host_->config_size(map); ++i) {
      const char* k = host_->config_key_at(map, i);
      double v = 0;
      tessera_error err;
      tessera_error_init(&err);
      if (host_->config_as_double(host_->config_get(map, k), &v, &err) != TESSERA_OK)
        throw Error(err.code, err.message);
      out.emplace_back(k, v);
    }
    return out;
  }

 private:
  const tessera_config* child(const char* key) const {
    if (host_ == nullptr || node_ == nullptr) return nullptr;
    return host_->config_get(node_, key);
  }
  template <class T, class Fn>
  std::optional<T> read(const char* key, Fn convert) const {
    const tessera_config* c = child(key);
    if (c == nullptr || convert == nullptr) return std::nullopt;
    T value{};
    tessera_error err;
    tessera_error_init(&err);
    if (convert(c, &value, &err) != TESSERA_OK) throw Error(err.code, err.message);
    return value;
  }

  const tessera_host_api* host_;
  const tessera_config* node_;
};

// Convenience constructors for parameter specs (static storage in plugins).
constexpr tessera_param_spec float_param(const char* name, double min, double max,
                                         const char* default_value,
                                         const char* description,
                                         uint32_t flags = 0) {
  return tessera_param_spec{sizeof(tessera_param_spec), name, TESSERA_PARAM_FLOAT,
                            flags, min, max, default_value, description};
}
constexpr tessera_param_spec int_param(const char* name, double min, double max,
                                       const char* default_value,
                                       const char* description, uint32_t flags = 0) {
  return tessera_param_spec{sizeof(tessera_param_spec), name, TESSERA_PARAM_INT,
                            flags, min, max, default_value, description};
}
constexpr tessera_param_spec typed_param(const char* name, tessera_param_type type,
                                         const char* default_value,
                                         const char* description, uint32_t flags = 0) {
  return tessera_param_spec{sizeof(tessera_param_spec), name, type, flags, 0, 0,
                            default_value, description};
}

}  // namespace tessera::sdk
