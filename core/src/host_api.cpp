#include "tessera/core/host_api.hpp"

#include <cstring>
#include <string>

#include "tessera/core/config_tree.hpp"
#include "tessera/core/log.hpp"
#include "tessera/core/scalar_parse.hpp"

namespace tessera {
namespace {

void host_log(tessera_log_level level, const char* plugin_name, const char* message) {
  logger()->log(to_spdlog_level(level), "[{}] {}", plugin_name ? plugin_name : "plugin",
                message ? message : "");
}

int host_log_enabled(tessera_log_level level) {
  return logger()->should_log(to_spdlog_level(level)) ? 1 : 0;
}

tessera_config_kind config_kind(const tessera_config* node) {
  return node ? node->kind : TESSERA_CONFIG_MISSING;
}

const tessera_config* config_get(const tessera_config* node, const char* key) {
  if (node == nullptr || key == nullptr || node->kind != TESSERA_CONFIG_MAP) return nullptr;
  for (const auto& [name, child] : node->entries)
    if (name == key) return child.get();
  return nullptr;
}

size_t config_size(const tessera_config* node) {
  if (node == nullptr) return 0;
  if (node->kind == TESSERA_CONFIG_LIST) return node->items.size();
  if (node->kind == TESSERA_CONFIG_MAP) return node->entries.size();
  return 0;
}

const tessera_config* config_at(const tessera_config* node, size_t index) {
  if (node == nullptr || node->kind != TESSERA_CONFIG_LIST || index >= node->items.size())
    return nullptr;
  return node->items[index].get();
}

const char* config_key_at(const tessera_config* node, size_t index) {
  if (node == nullptr || node->kind != TESSERA_CONFIG_MAP || index >= node->entries.size())
    return nullptr;
  return node->entries[index].first.c_str();
}

tessera_status type_error(const tessera_config* node, tessera_error* err, const char* expected) {
  if (node == nullptr)
    return tessera_error_set(err, TESSERA_ERR_INVALID_ARGUMENT, "missing configuration value; expected %s",
                             expected);
  return tessera_error_set(err, TESSERA_ERR_INVALID_ARGUMENT, "%s: '%s' must be %s, got '%s'",
                           node->location_text.c_str(), node->path.c_str(), expected,
                           node->kind == TESSERA_CONFIG_SCALAR ? node->scalar.c_str()
                           : node->kind == TESSERA_CONFIG_LIST ? "a list"
                           : node->kind == TESSERA_CONFIG_MAP  ? "a map"
                                                               : "null");
}

tessera_status config_as_int(const tessera_config* node, int64_t* out, tessera_error* err) {
  if (node != nullptr && node->kind == TESSERA_CONFIG_SCALAR && out != nullptr)
    if (auto v = parse_int(node->scalar)) {
      *out = *v;
      return TESSERA_OK;
    }
  return type_error(node, err, "an integer");
}

tessera_status config_as_double(const tessera_config* node, double* out, tessera_error* err) {
  if (node != nullptr && node->kind == TESSERA_CONFIG_SCALAR && out != nullptr)
    if (auto v = parse_double(node->scalar)) {
      *out = *v;
      return TESSERA_OK;
    }
  return type_error(node, err, "a number");
}

tessera_status config_as_bool(const tessera_config* node, int* out, tessera_error* err) {
  if (node != nullptr && node->kind == TESSERA_CONFIG_SCALAR && out != nullptr)
    if (auto v = parse_bool(node->scalar)) {
      *out = *v ? 1 : 0;
      return TESSERA_OK;
    }
  return type_error(node, err, "true or false");
}

tessera_status config_as_string(const tessera_config* node, const char** out, tessera_error* err) {
  if (node != nullptr && node->kind == TESSERA_CONFIG_SCALAR && out != nullptr) {
    *out = node->scalar.c_str();
    return TESSERA_OK;
  }
  return type_error(node, err, "a string");
}

const char* config_location(const tessera_config* node) {
  return node ? node->location_text.c_str() : "<no location>";
}

const tessera_host_api kHostApi = {
    sizeof(tessera_host_api),
    TESSERA_ABI_VERSION_MAJOR,
    TESSERA_ABI_VERSION_MINOR,
    host_log,
    host_log_enabled,
    config_kind,
    config_get,
    config_size,
    config_at,
    config_key_at,
    config_as_int,
    config_as_double,
    config_as_bool,
    config_as_string,
    config_location,
};

}  // namespace

const tessera_host_api* host_api() { return &kHostApi; }

}  // namespace tessera
