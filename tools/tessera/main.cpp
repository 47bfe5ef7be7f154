// tessera: command line entry point. Global options come before the command:
//   tessera [--log-level LEVEL] <command> [command options]
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/log.hpp"
#include "tessera/version.h"

namespace {

void print_usage(std::ostream& out) {
  out << "usage: tessera [--log-level trace|debug|info|warn|error|off] <command> [options]\n"
         "\n"
         "commands:\n"
         "  run PIPELINE -p TEXT generate text with a pipeline (-n tokens, --greedy, --json, ...)\n"
         "  bench PIPELINE...    prompt and generation speed (-p 512 -n 128 -d 0 -r 5, --json, --csv,\n"
         "                       --plot out.svg: t/s vs context depth, one line per pipeline)\n"
         "  perplexity PIPELINE -f TEXT\n"
         "                       perplexity over a text, llama.cpp's method (--ctx N, --chunks K, --json)\n"
         "  ab A.yaml B.yaml [-f TEXT]\n"
         "                       two pipelines on one model side by side: speed, memory, perplexity,\n"
         "                       top-1 agreement and KL(A||B), greedy match (--fail-kl X gates on mean KL)\n"
         "  plugins              list the plugins found (name, kind, version, ABI, path, capabilities)\n"
         "  validate FILE...     check pipeline files against the schema and the installed plugins\n"
         "  inspect MODEL        architecture, parameters, tensors, bytes per type, memory at a context size\n"
         "  quantize IN OUT --type T\n"
         "                       write a copy of a GGUF model with its weights in type T\n"
         "  synth --shape S --type T -o OUT\n"
         "                       write a model of a known shape with random weights (for benchmarks)\n"
         "\n"
         "Run 'tessera <command> --help' for the options of a command.\n"
         "Plugins are searched in a pipeline's plugin_paths, $TESSERA_PLUGIN_PATH, next to libtessera\n"
         "and in the install prefix.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    // Global options, then the command.
    std::size_t i = 0;
    for (; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--log-level" || a.rfind("--log-level=", 0) == 0) {
        std::string value;
        if (a == "--log-level") {
          if (i + 1 >= args.size()) throw tessera::Error("--log-level needs a value");
          value = args[++i];
        } else {
          value = a.substr(std::strlen("--log-level="));
        }
        tessera::set_log_level(tessera::parse_log_level(value));
      } else if (a == "--help" || a == "-h") {
        print_usage(std::cout);
        return 0;
      } else if (a == "--version") {
        std::cout << "tessera " << TESSERA_VERSION_STRING << " (plugin ABI " << TESSERA_ABI_VERSION_MAJOR << "."
                  << TESSERA_ABI_VERSION_MINOR << ")\n";
        return 0;
      } else {
        break;
      }
    }
    if (i >= args.size()) {
      print_usage(std::cerr);
      return 2;
    }
    const std::string command = args[i];
    const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
    if (command == "plugins") return tessera::cli::command_plugins(rest);
    if (command == "validate") return tessera::cli::command_validate(rest);
    if (command == "inspect") return tessera::cli::command_inspect(rest);
    if (command == "quantize") return tessera::cli::command_quantize(rest);
    if (command == "synth") return tessera::cli::command_synth(rest);
    if (command == "run") return tessera::cli::command_run(rest);
    if (command == "bench") return tessera::cli::command_bench(rest);
    if (command == "perplexity") return tessera::cli::command_perplexity(rest);
    if (command == "ab") return tessera::cli::command_ab(rest);
    std::cerr << "tessera: unknown command '" << command << "'\n\n";
    print_usage(std::cerr);
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "tessera: error: " << e.what() << "\n";
    return 1;
  }
}
