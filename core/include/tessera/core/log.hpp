// The host's logger (spdlog). Plugins log into it through the host API.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

#include "tessera/host.h"

namespace tessera {

// The "tessera" logger, writing to stderr; created on first use.
std::shared_ptr<spdlog::logger> logger();

// Parses "trace|debug|info|warn|error|off"; throws tessera::Error otherwise.
spdlog::level::level_enum parse_log_level(std::string_view text);

void set_log_level(spdlog::level::level_enum level);

spdlog::level::level_enum to_spdlog_level(tessera_log_level level);

}  // namespace tessera
