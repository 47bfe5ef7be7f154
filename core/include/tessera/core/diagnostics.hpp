// Diagnostics with a source position: every mistake in a pipeline file is
// reported as FILE:LINE:COLUMN: message, like a compiler.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tessera {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  std::string to_string() const;
};

enum class Severity { Error, Warning };

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLocation location;
  std::string message;

  // "FILE:LINE:COL: error: message"
  std::string to_string() const;
};

class Diagnostics {
 public:
  void error(SourceLocation location, std::string message);
  void warning(SourceLocation location, std::string message);

  bool has_errors() const;
  std::size_t error_count() const;
  const std::vector<Diagnostic>& all() const { return items_; }
  // All diagnostics, one per line.
  std::string to_string() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace tessera
