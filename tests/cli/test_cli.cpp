// The `tessera` command line as a user runs it: exit codes, tables, JSON.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "test_data.hpp"
#include "tessera/version.h"

namespace fs = std::filesystem;

namespace {

struct CliRun {
  int status = -1;
  std::string out;  // stdout and stderr together unless split
};

// Runs the tessera binary with `args` (already shell-quoted where needed).
CliRun tessera_cli(const std::string& args, bool with_stderr = true) {
  const std::string command = std::string("TESSERA_PLUGIN_PATH= '") + TESSERA_CLI_PATH + "' " + args +
                              (with_stderr ? " 2>&1" : " 2>/dev/null");
  CliRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int raw = ::pclose(pipe);
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return run;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST(Cli, VersionNamesTheAbi) {
  const CliRun r = tessera_cli("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("plugin ABI " + std::to_string(TESSERA_ABI_VERSION_MAJOR)), std::string::npos) << r.out;
}

TEST(Cli, UnknownCommandAndBadLogLevelFail) {
  EXPECT_EQ(tessera_cli("frobnicate").status, 2);
  const CliRun r = tessera_cli("--log-level loud plugins");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("unknown log level 'loud'"), std::string::npos) << r.out;
}

TEST(Cli, PluginsJsonDescribesLoadedAndRefusedPlugins) {
  const fs::path fixtures = tessera::test::fixture_plugin_dir();
  const CliRun r = tessera_cli("plugins --json --no-default-paths --plugin-path " + quoted(fixtures / "sampler") +
                                " --plugin-path " + quoted(fixtures / "compute") + " --plugin-path " +
                                quoted(fixtures / "abi_major_2"),
                            false);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["plugins"].size(), 2u);
  const auto& compute = doc["plugins"][0];
  EXPECT_EQ(compute["name"], "fixture_compute");
  EXPECT_EQ(compute["kinds"], nlohmann::json::array({"compute"}));
  EXPECT_EQ(compute["abi"], std::to_string(TESSERA_ABI_VERSION_MAJOR) + "." + std::to_string(TESSERA_ABI_VERSION_MINOR));
  EXPECT_EQ(compute["version"], "1.2.3");
  EXPECT_EQ(compute["capabilities"][0], "device 0: fixture device (1.0 GiB)");
  const auto& sampler = doc["plugins"][1];
  EXPECT_EQ(sampler["capabilities"][0], "selects token");
  EXPECT_EQ(sampler["params"][1]["range"], "0 < p <= 1");
  ASSERT_EQ(doc["refused"].size(), 1u);
  EXPECT_NE(doc["refused"][0]["reason"].get<std::string>().find("ABI version mismatch"), std::string::npos);
}

TEST(Cli, PluginsTableHasTheDocumentedColumns) {
  const CliRun r = tessera_cli("plugins --params --no-default-paths --plugin-path " +
                            quoted(tessera::test::fixture_plugin_dir() / "kernel"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("NAME", 0), 0u) << r.out;
  for (const char* column : {"KIND", "VERSION", "ABI", "PATH", "CAPABILITIES"})
    EXPECT_NE(r.out.find(column), std::string::npos) << column;
  EXPECT_NE(r.out.find("overrides fixture_compute: mul_mat.q4_0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fixture_kernel parameters:"), std::string::npos) << r.out;
}

// Every plugin library the build produced is listed, none refused.
TEST(Cli, PluginsListsEveryPluginTheBuildProduces) {
  std::set<std::string> built;
  if (!fs::is_directory(tessera::test::build_plugin_dir())) GTEST_SKIP() << "this build produced no plugins";
  for (const auto& entry : fs::directory_iterator(tessera::test::build_plugin_dir()))
    if (entry.path().extension() == ".so") built.insert(fs::weakly_canonical(entry.path()).string());
  if (built.empty()) GTEST_SKIP() << "this build produced no plugins";
  const CliRun r = tessera_cli("plugins --json", false);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  std::set<std::string> listed;
  for (const auto& p : doc["plugins"]) listed.insert(p["path"].get<std::string>());
  EXPECT_EQ(listed, built);
  EXPECT_TRUE(doc["refused"].empty()) << doc["refused"].dump(2);
}

// The example pipelines shipped in config/ are all valid with the plugins of
// this build.
TEST(Cli, ValidateAcceptsEveryExamplePipeline) {
  std::vector<fs::path> pipelines;
  // config/cuda*.yaml name the cuda plugin, which a build without nvcc lacks.
  const bool have_cuda = fs::exists(tessera::test::build_plugin_dir() / "libtessera_cuda.so");
  for (const auto& entry : fs::directory_iterator(tessera::test::source_dir() / "config"))
    if (entry.path().extension() == ".yaml" && (have_cuda || entry.path().filename().string().rfind("cuda", 0) != 0))
      pipelines.push_back(entry.path());
  if (pipelines.empty()) GTEST_SKIP() << "config/ has no example pipelines yet";
  for (const auto& p : pipelines) {
    const CliRun r = tessera_cli("validate " + quoted(p));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(": valid"), std::string::npos) << r.out;
  }
}

TEST(Cli, ValidateReportsFileLineColumnAndFails) {
  const fs::path dir = fs::temp_directory_path() / ("tessera-cli-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "model.fixt") << "FIXT";
  std::ofstream(dir / "bad.yaml") << "plugin_paths: [" << (tessera::test::fixture_plugin_dir() / "compute").string()
                                  << ", " << (tessera::test::fixture_plugin_dir() / "format").string() << "]\n"
                                  << "model: { path: model.fixt }\n"
                                  << "compute:\n  - { backend: fixture_compute, thread: 2 }\n";
  const CliRun text = tessera_cli("validate " + quoted(dir / "bad.yaml"));
  EXPECT_EQ(text.status, 1);
  EXPECT_NE(text.out.find((dir / "bad.yaml").string() + ":4:33: error: unknown key 'thread'"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("did you mean 'threads'?"), std::string::npos) << text.out;

  const CliRun json = tessera_cli("validate --json " + quoted(dir / "bad.yaml"), false);
  EXPECT_EQ(json.status, 1);
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc[0]["valid"], false);
  EXPECT_EQ(doc[0]["diagnostics"][0]["line"], 4);
  EXPECT_EQ(doc[0]["diagnostics"][0]["column"], 33);
  fs::remove_all(dir);
}

TEST(Cli, ValidateNeedsAFile) { EXPECT_EQ(tessera_cli("validate").status, 2); }
