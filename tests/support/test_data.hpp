// Locating test inputs: ../shared (models, texts, references) through the one
// setting TESSERA_TEST_DATA, and the plugins this build produced.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace tessera::test {

// Root of the shared test data; TESSERA_TEST_DATA overrides the default
// (../shared beside the source tree).
inline std::filesystem::path data_dir() {
  if (const char* env = std::getenv("TESSERA_TEST_DATA"); env != nullptr && *env != '\0')
    return env;
  return TESSERA_DEFAULT_TEST_DATA;
}

// Directory holding the plugins built in this tree.
inline std::filesystem::path build_plugin_dir() { return TESSERA_BUILD_PLUGIN_DIR; }

// Where tests look for plugins: TESSERA_TEST_PLUGIN_DIR first when set (its
// plugins win over same-named ones, e.g. the cuda plugin built for the CUDA
// simulator), then this build's plugin directory.
inline std::vector<std::filesystem::path> plugin_search_path() {
  std::vector<std::filesystem::path> path;
  if (const char* env = std::getenv("TESSERA_TEST_PLUGIN_DIR"); env != nullptr && *env != '\0') path.emplace_back(env);
  path.push_back(build_plugin_dir());
  return path;
}

// Directory holding the test-only fixture plugins (bad ABI etc.).
inline std::filesystem::path fixture_plugin_dir() { return TESSERA_FIXTURE_PLUGIN_DIR; }

inline std::filesystem::path source_dir() { return TESSERA_SOURCE_DIR; }

}  // namespace tessera::test
