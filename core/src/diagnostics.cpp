#include "tessera/core/diagnostics.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace tessera {

std::string SourceLocation::to_string() const {
  if (line <= 0) return file;
  if (column <= 0) return fmt::format("{}:{}", file, line);
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string Diagnostic::to_string() const {
  return fmt::format("{}: {}: {}", location.to_string(),
                     severity == Severity::Error ? "error" : "warning", message);
}

void Diagnostics::error(SourceLocation location, std::string message) {
  items_.push_back({Severity::Error, std::move(location), std::move(message)});
}

void Diagnostics::warning(SourceLocation location, std::string message) {
  items_.push_back({Severity::Warning, std::move(location), std::move(message)});
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

std::size_t Diagnostics::error_count() const {
  return static_cast<std::size_t>(std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) {
    return d.severity == Severity::Error;
  }));
}

std::string Diagnostics::to_string() const {
  std::string out;
  for (const auto& d : items_) {
    out += d.to_string();
    out += '\n';
  }
  return out;
}

}  // namespace tessera
