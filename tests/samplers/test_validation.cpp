// Bad sampler parameters are rejected at pipeline validation with file, line
// and the allowed range, from the plugins' declared parameter specs; the
// plugins re-check ranges themselves when created without validation.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "sampler_harness.hpp"
#include "tessera/core/schema.hpp"
#include "test_data.hpp"

namespace tessera::test {
namespace {

// Diagnostics of `yaml` validated as the pipeline file "bad.yaml".
Diagnostics validate(const std::string& yaml) {
  SchemaValidator validator(Schema::pipeline(), &sampler_registry(), "bad.yaml", source_dir());
  Diagnostics out;
  validator.validate(YAML::Load(yaml), out);
  return out;
}

// The one error reported on `line`, as "FILE:LINE:COL: error: message".
std::string error_on_line(const Diagnostics& diagnostics, int line) {
  std::string found;
  for (const auto& d : diagnostics.all())
    if (d.location.line == line) found += d.to_string() + "\n";
  return found;
}

const char* const kHeader =
    "model: { path: models/stories260K.gguf }\n"
    "compute: [{ backend: cpu }]\n"
    "sampling:\n";

TEST(sampler_validation, OutOfRangeParametersNameFileLineAndRange) {
  const Diagnostics d = validate(std::string(kHeader) +
                                 "  - { name: top_p, p: 1.5 }\n"        // line 4
                                 "  - { name: top_k, k: -1 }\n"         // line 5
                                 "  - { name: temperature, t: -0.5 }\n" // line 6
                                 "  - { name: penalties, repeat_penalty: 0 }\n"  // line 7
                                 "  - { name: dist, seed: 42 }\n");
  const std::string top_p = error_on_line(d, 4);
  EXPECT_NE(top_p.find("bad.yaml:4:"), std::string::npos) << d.to_string();
  EXPECT_NE(top_p.find("'sampling[0].p' is 1.5, out of range"), std::string::npos) << top_p;
  EXPECT_NE(top_p.find("0 <= p <= 1"), std::string::npos) << top_p;
  EXPECT_NE(error_on_line(d, 5).find("k >= 0"), std::string::npos) << d.to_string();
  EXPECT_NE(error_on_line(d, 6).find("t >= 0"), std::string::npos) << d.to_string();
  EXPECT_NE(error_on_line(d, 7).find("repeat_penalty > 0"), std::string::npos) << d.to_string();
}

TEST(sampler_validation, WrongTypesAndUnknownNames) {
  const Diagnostics d = validate(std::string(kHeader) +
                                 "  - { name: top_k, k: 2.5 }\n"     // line 4
                                 "  - { name: top_z }\n"             // line 5
                                 "  - { name: top_p, q: 0.9 }\n"     // line 6
                                 "  - { name: dry, sequence_breakers: 3 }\n"  // line 7
                                 "  - { name: dist }\n");
  EXPECT_NE(error_on_line(d, 4).find("must be integer"), std::string::npos) << d.to_string();
  const std::string unknown = error_on_line(d, 5);
  EXPECT_NE(unknown.find("no sampler plugin named 'top_z'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("top_k"), std::string::npos) << "should suggest a near name: " << unknown;
  EXPECT_NE(error_on_line(d, 6).find("unknown key 'q'"), std::string::npos) << d.to_string();
  EXPECT_NE(error_on_line(d, 7).find("list of strings"), std::string::npos) << d.to_string();
}

TEST(sampler_validation, GoodChainHasNoSamplerErrors) {
  const Diagnostics d = validate(std::string(kHeader) +
                                 "  - { name: penalties, last_n: 64, repeat_penalty: 1.1 }\n"
                                 "  - { name: logit_bias, bias: { 2: -100, 13: 1.5 } }\n"
                                 "  - { name: top_k, k: 40 }\n"
                                 "  - { name: dist, seed: 42 }\n");
  for (int line = 4; line <= 7; ++line) EXPECT_EQ(error_on_line(d, line), "") << line;
}

TEST(sampler_validation, ChainWithoutFinalDrawIsRejected) {
  PluginRegistry registry;
  registry.discover({build_plugin_dir()});
  if (registry.find("cpu", TESSERA_KIND_COMPUTE) == nullptr)
    GTEST_SKIP() << "no cpu compute plugin built: a whole pipeline cannot validate yet";
  const auto dir = std::filesystem::temp_directory_path() / "tessera_sampler_validation";
  std::filesystem::create_directories(dir);
  const auto file = dir / "no_draw.yaml";
  std::ofstream(file) << "model: { path: " << (data_dir() / "models" / "stories260K.gguf").string() << " }\n"
                      << "compute: [{ backend: cpu }]\n"
                      << "sampling:\n"
                      << "  - { name: top_k, k: 40 }\n"
                      << "  - { name: top_p, p: 0.9 }\n";  // line 5
  const PipelineLoadResult result = load_pipeline(file, registry, {build_plugin_dir()});
  ASSERT_TRUE(result.diagnostics.has_errors());
  const std::string message = error_on_line(result.diagnostics, 5);
  EXPECT_NE(message.find("does not select a token"), std::string::npos) << result.diagnostics.to_string();
  EXPECT_NE(message.find("'dist'"), std::string::npos) << message;
}

TEST(sampler_validation, PluginsRecheckRangesWhenCreatedDirectly) {
  const std::string message = create_error("{name: top_p, p: 1.5}");
  EXPECT_NE(message.find("test.yaml:1:"), std::string::npos) << message;
  EXPECT_NE(message.find("'p' is 1.5, out of range: expected 0 <= p <= 1"), std::string::npos) << message;
  EXPECT_NE(create_error("{name: top_k, k: -3}").find("k >= 0"), std::string::npos);
}

}  // namespace
}  // namespace tessera::test
