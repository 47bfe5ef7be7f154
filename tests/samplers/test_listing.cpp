// `tessera plugins --params` lists every sampler with its parameters.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "test_data.hpp"

namespace tessera::test {
namespace {

std::string run_cli(const std::string& args) {
  const std::string command = std::string(TESSERA_CLI_PATH) + " " + args + " 2>&1";
  std::string output;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    pclose(pipe);
  }
  return output;
}

TEST(sampler_listing, PluginsCommandListsEverySamplerAndItsParameters) {
  const std::string out = run_cli("plugins --params --plugin-path " + build_plugin_dir().string());
  const std::pair<const char*, const char*> expected[] = {
      {"greedy", nullptr},          {"temperature", "dynatemp_range"}, {"top_k", "k >= 0"},
      {"top_p", "0 <= p <= 1"},     {"min_p", "min_keep"},             {"typical_p", "p"},
      {"top_n_sigma", "n > 0"},     {"penalties", "repeat_penalty"},   {"dry", "sequence_breakers"},
      {"xtc", "threshold"},         {"mirostat", "tau"},               {"mirostat_v2", "eta"},
      {"logit_bias", "bias"},       {"dist", "seed"}};
  for (const auto& [name, param] : expected) {
    EXPECT_NE(out.find(std::string("\n") + name + " "), std::string::npos) << name << "\n" << out;
    if (param != nullptr) {
      EXPECT_NE(out.find(std::string(name) + " parameters:"), std::string::npos) << name;
      EXPECT_NE(out.find(param), std::string::npos) << param;
    }
  }
}

}  // namespace
}  // namespace tessera::test
