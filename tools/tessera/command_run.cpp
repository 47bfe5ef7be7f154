// `tessera run PIPELINE.yaml -p PROMPT -n N`: generate text, streaming it,
// then one line of timings, the sampler chain's cost per token among them (or
// one JSON object with --json).
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/generator.hpp"
#include "tessera/core/session.hpp"

namespace tessera::cli {

int command_run(const std::vector<std::string>& args) {
  po::options_description options("tessera run PIPELINE.yaml [options]");
  options.add_options()("help,h", "show this help")("prompt,p", po::value<std::string>()->default_value(""),
                                                     "the prompt")(
      "n-predict,n", po::value<int64_t>()->default_value(128), "tokens to generate")(
      "model,m", po::value<std::string>(), "override model.path")(
      "threads,t", po::value<int64_t>(), "override the threads of every cpu compute entry")(
      "seed,s", po::value<int64_t>(), "override the seed of every sampler that has one")(
      "ctx-size,c", po::value<int64_t>(), "override context.size")(
      "no-mmap", kNoMmapHelp)(
      "greedy", "replace the sampler chain with greedy decoding")("ignore-eos", "do not stop at end of sequence")(
      "json", "print one JSON object (ids, text, timings) instead of streaming");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("pipeline", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("pipeline", 1);
  po::variables_map vm;
  if (!parse_options("run", args, options, vm, &hidden, &positional)) return 2;
  if (vm.count("help") || !vm.count("pipeline")) {
    std::cout << options;
    return vm.count("help") ? 0 : 2;
  }

  // Command-line overrides edit the YAML before validation, so they are
  // checked like the file itself.
  auto edit = [&](YAML::Node& doc) {
    if (!doc.IsMap()) return;
    apply_pipeline_overrides(doc, vm);
    if (vm.count("greedy")) doc.remove("sampling");
    if (vm.count("seed") && doc["sampling"].IsSequence())
      for (auto entry : doc["sampling"])
        if (entry["seed"]) entry["seed"] = vm["seed"].as<int64_t>();
  };
  auto registry = std::make_unique<PluginRegistry>();
  std::vector<std::filesystem::path> defaults = plugin_paths(vm);
  for (const auto& p : PluginRegistry::default_search_paths()) defaults.push_back(p);
  PipelineLoadResult loaded = load_pipeline(vm["pipeline"].as<std::string>(), *registry, defaults, edit);
  std::cerr << loaded.diagnostics.to_string();
  if (!loaded.pipeline) return 1;

  Progress load_progress("loading " + loaded.pipeline->model.path.filename().string(), 100);
  Session session(*loaded.pipeline, *registry, [&](uint64_t done, uint64_t total) {
    load_progress.update(static_cast<std::size_t>(100 * done / std::max<uint64_t>(total, 1)),
                         fmt::format("{} / {}", format_bytes(done), format_bytes(total)));
  });
  load_progress.finish();

  GenerationSettings settings;
  settings.max_tokens = vm["n-predict"].as<int64_t>();
  settings.stop_at_eos = !vm.count("ignore-eos");
  settings.context_shift = loaded.pipeline->context.shift;
  Generator generator(session.runtime(), session.tokenizer(), session.sampler());
  const bool json = vm.count("json") != 0;
  const std::string prompt = vm["prompt"].as<std::string>();
  if (!json) std::cout << prompt << std::flush;
  const GenerationResult result = generator.generate(prompt, settings, [&](const std::string& text) {
    if (!json) std::cout << text << std::flush;
  });

  if (json) {
    nlohmann::json out{{"prompt", prompt},
                       {"prompt_ids", result.prompt_ids},
                       {"generated_ids", result.generated_ids},
                       {"text", result.text},
                       {"stopped_at_eos", result.stopped_at_eos},
                       {"timings",
                        {{"prompt_tokens", result.prompt_ids.size()},
                         {"prompt_seconds", result.prompt_seconds},
                         {"prompt_tokens_per_second", result.prompt_tokens_per_second()},
                         {"generated_tokens", result.generated_ids.size()},
                         {"generation_seconds", result.generation_seconds},
                         {"generation_tokens_per_second", result.generation_tokens_per_second()},
                         {"sampling_seconds", result.sampling_seconds},
                         {"sampling_seconds_per_token", result.sampling_seconds_per_token()},
                         {"decode_seconds_per_token", result.decode_seconds_per_token()},
                         {"sampling_share_of_decode", result.sampling_share_of_decode()}}}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "\n";
    // Sampling against the model's own decode time: what the chain costs.
    std::cerr << fmt::format("prompt: {} tokens in {:.3f} s ({:.1f} tokens/s) | generation: {} tokens in {:.3f} s "
                             "({:.1f} tokens/s) | sampling: {:.1f} us/token, {:.1f}% of decode ({:.1f} us/token)\n",
                             result.prompt_ids.size(), result.prompt_seconds, result.prompt_tokens_per_second(),
                             result.generated_ids.size(), result.generation_seconds,
                             result.generation_tokens_per_second(), 1e6 * result.sampling_seconds_per_token(),
                             100 * result.sampling_share_of_decode(), 1e6 * result.decode_seconds_per_token());
  }
  return 0;
}

}  // namespace tessera::cli
