// Writing pipeline files for tests and finding diagnostics in the result.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_data.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace tessera::test {

// A scratch directory holding a fake model (recognised by the fixture format
// plugin) and the pipelines a test writes.
class PipelineFiles {
 public:
  PipelineFiles() {
    dir_ = std::filesystem::temp_directory_path() /
           ("tessera-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "model.fixt") << "FIXT fake model";
  }
  ~PipelineFiles() { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  const std::filesystem::path& dir() const { return dir_; }

  // The plugin_paths block listing the fixture plugins used by these tests.
  static std::string fixture_plugin_paths() {
    std::string out = "plugin_paths:\n";
    for (const char* name : {"sampler", "filter", "compute", "format", "kernel", "required"})
      out += "  - " + (fixture_plugin_dir() / name).string() + "\n";
    return out;
  }

 private:
  std::filesystem::path dir_;
};

inline PipelineLoadResult load(const std::filesystem::path& file, PluginRegistry& registry) {
  return load_pipeline(file, registry, {});
}

// Asserts that exactly one error mentions every part and sits at line:column.
inline ::testing::AssertionResult has_error_at(const Diagnostics& diagnostics, int line, int column,
                                               std::initializer_list<std::string> parts) {
  for (const auto& d : diagnostics.all()) {
    bool all = true;
    for (const auto& p : parts) all &= d.message.find(p) != std::string::npos;
    if (!all) continue;
    if (d.location.line == line && d.location.column == column) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "found at " << d.location.line << ":" << d.location.column
                                         << " instead of " << line << ":" << column << ": " << d.to_string();
  }
  return ::testing::AssertionFailure() << "no diagnostic mentions all parts; got:\n" << diagnostics.to_string();
}

}  // namespace tessera::test
