#include "tessera/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "tessera/core/error.hpp"

namespace tessera {

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto existing = spdlog::get("tessera");
    if (existing) return existing;
    auto created = spdlog::stderr_color_mt("tessera");
    created->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    created->set_level(spdlog::level::info);
    return created;
  }();
  return instance;
}

spdlog::level::level_enum parse_log_level(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn" || text == "warning") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  if (text == "off") return spdlog::level::off;
  throw Error(std::string("unknown log level '") + std::string(text) +
              "'; expected one of trace, debug, info, warn, error, off");
}

void set_log_level(spdlog::level::level_enum level) { logger()->set_level(level); }

spdlog::level::level_enum to_spdlog_level(tessera_log_level level) {
  switch (level) {
    case TESSERA_LOG_TRACE: return spdlog::level::trace;
    case TESSERA_LOG_DEBUG: return spdlog::level::debug;
    case TESSERA_LOG_INFO: return spdlog::level::info;
    case TESSERA_LOG_WARN: return spdlog::level::warn;
    case TESSERA_LOG_ERROR: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace tessera
