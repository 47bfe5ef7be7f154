// Subcommands of the `tessera` command line. Each takes the arguments after
// its name and returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace tessera::cli {

int command_plugins(const std::vector<std::string>& args);
int command_validate(const std::vector<std::string>& args);
int command_inspect(const std::vector<std::string>& args);
int command_quantize(const std::vector<std::string>& args);
int command_synth(const std::vector<std::string>& args);
int command_run(const std::vector<std::string>& args);
int command_bench(const std::vector<std::string>& args);
int command_perplexity(const std::vector<std::string>& args);
int command_ab(const std::vector<std::string>& args);

}  // namespace tessera::cli
