// Shared by the eval tests: skipping without the gguf plugin or shared data,
// pipeline files in a temporary folder, and running the built CLI.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_data.hpp"

namespace tessera::test {

inline bool have_gguf_and_data(const std::string& model) {
  return std::filesystem::exists(build_plugin_dir() / "libtessera_gguf.so") &&
         std::filesystem::exists(build_plugin_dir() / "libtessera_cpu.so") && std::filesystem::exists(data_dir() / model);
}

// A temporary folder removed with the fixture.
class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_(std::filesystem::temp_directory_path() / ("tessera-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A CPU pipeline over a shared model, written to `dir`.
inline std::filesystem::path write_pipeline(const std::filesystem::path& dir, const std::string& model,
                                            int64_t context, const std::string& name = "pipeline.yaml") {
  const auto file = dir / name;
  std::ofstream(file) << "model: { path: \"" << (data_dir() / model).string()
                      << "\" }\ncompute: [ { backend: cpu, threads: 2 } ]\ncontext: { size: " << context
                      << ", batch: " << context << " }\n";
  return file;
}

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs the built tessera with `args` (shell-quoted where needed); stderr is
// kept apart (dropped) unless `with_stderr`. The bandwidth cache goes to
// `cache_dir` so tests never touch the user's.
inline CliRun tessera_cli(const std::string& args, const std::filesystem::path& cache_dir, bool with_stderr) {
  const std::string command = "TESSERA_PLUGIN_PATH= XDG_CACHE_HOME='" + cache_dir.string() + "' '" +
                              std::string(TESSERA_CLI_PATH) + "' " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  CliRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int raw = ::pclose(pipe);
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return run;
}

// Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "'" + string.
inline std::string quoted(const std::filesystem::path& p) {
  std::string text = "'";
  text += p.string();
  text += '\'';
  return text;
}

}  // namespace tessera::test
