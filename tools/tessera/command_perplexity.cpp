// `tessera perplexity PIPELINE.yaml -f TEXT [--ctx N] [--chunks K]`:
// perplexity of the pipeline's model over a text file by llama.cpp's method
// (see core perplexity.hpp), printing the running value per chunk.
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/perplexity.hpp"
#include "tessera/core/session.hpp"

namespace tessera::cli {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read the text file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) throw Error(fmt::format("the text file '{}' is empty", path));
  return text.str();
}

}  // namespace

int command_perplexity(const std::vector<std::string>& args) {
  po::options_description options("tessera perplexity PIPELINE.yaml -f TEXT [options]");
  options.add_options()("help,h", "show this help")("file,f", po::value<std::string>(), "the text to score")(
      "ctx", po::value<int64_t>(), "tokens per chunk (default: 512, at most context.size)")(
      "chunks", po::value<int64_t>()->default_value(0), "evaluate at most this many chunks (0: all)")(
      "model,m", po::value<std::string>(), "override model.path")(
      "threads,t", po::value<int64_t>(), "override the threads of every cpu compute entry")(
      "ctx-size,c", po::value<int64_t>(), "override context.size")(
      "no-mmap", kNoMmapHelp)(
      "batch,b", po::value<int64_t>(), "override context.batch")(
      "json", "print one JSON object instead of the running values");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("pipeline", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("pipeline", 1);
  po::variables_map vm;
  if (!parse_options("perplexity", args, options, vm, &hidden, &positional)) return 2;
  if (vm.count("help") || !vm.count("pipeline") || !vm.count("file")) {
    if (!vm.count("help")) std::cerr << "tessera perplexity: a pipeline and -f TEXT are required\n\n";
    std::cout << options;
    return vm.count("help") ? 0 : 2;
  }
  if (vm["chunks"].as<int64_t>() < 0) throw Error("--chunks must be 0 (all) or positive");
  const std::string text_path = vm["file"].as<std::string>();
  const std::string text = read_text(text_path);  // before loading a model, so a typo fails fast

  auto edit = [&](YAML::Node& doc) {
    apply_pipeline_overrides(doc, vm);
  };
  auto registry = std::make_unique<PluginRegistry>();
  std::vector<std::filesystem::path> defaults = plugin_paths(vm);
  for (const auto& p : PluginRegistry::default_search_paths()) defaults.push_back(p);
  PipelineLoadResult loaded = load_pipeline(vm["pipeline"].as<std::string>(), *registry, defaults, edit);
  std::cerr << loaded.diagnostics.to_string();
  if (!loaded.pipeline) return 1;

  const int64_t context_size = loaded.pipeline->context.size;
  const int64_t ctx = vm.count("ctx") ? vm["ctx"].as<int64_t>() : std::min<int64_t>(512, context_size);
  if (ctx > context_size)
    throw Error(fmt::format("--ctx {} is larger than the pipeline's context.size {}; raise context.size (or --ctx-size)",
                            ctx, context_size));

  Progress load_progress("loading " + loaded.pipeline->model.path.filename().string(), 100);
  Session session(*loaded.pipeline, *registry, [&](uint64_t done, uint64_t total) {
    load_progress.update(static_cast<std::size_t>(100 * done / std::max<uint64_t>(total, 1)),
                         fmt::format("{} / {}", format_bytes(done), format_bytes(total)));
  });
  load_progress.finish();

  // As llama.cpp does: the whole text is tokenized once, BOS first when the
  // vocabulary asks for it; the same BOS then starts every chunk.
  const Tokenizer& tokenizer = session.tokenizer();
  const bool add_bos = tokenizer.adds_bos() && tokenizer.bos_id() >= 0;
  const std::vector<int32_t> tokens = tokenizer.encode(text, add_bos);
  PerplexityOptions settings;
  settings.context = ctx;
  settings.max_chunks = vm["chunks"].as<int64_t>();
  if (add_bos) settings.bos_id = tokenizer.bos_id();

  const bool json = vm.count("json") != 0;
  const int64_t first = perplexity_first_scored(ctx);
  std::cerr << fmt::format("perplexity: {} tokens, chunks of {} scored on positions {}..{}\n", tokens.size(), ctx,
                           first + 1, ctx - 1);
  const PerplexityResult result = compute_perplexity(session.runtime(), tokens, settings, [&](const PerplexityChunk& c) {
    if (!json)
      std::cout << fmt::format("[{}/{}] {:.4f} +/- {:.5f}  (chunk NLL {:.4f}, {:.2f} s)\n", c.index + 1, c.chunks,
                               c.ppl, c.ppl_error, c.chunk_nll, c.seconds)
                << std::flush;
  });

  if (json) {
    nlohmann::json chunks = nlohmann::json::array();
    for (const PerplexityChunk& c : result.chunks)
      chunks.push_back({{"chunk", c.index + 1}, {"ppl", c.ppl}, {"ppl_error", c.ppl_error}, {"nll", c.chunk_nll},
                        {"seconds", c.seconds}});
    const nlohmann::json out{{"model", loaded.pipeline->model.path.string()},
                             {"text", text_path},
                             {"tokens", result.tokens},
                             {"context", ctx},
                             {"first_scored", first},
                             {"n_chunks", result.chunks.size()},
                             {"scored_tokens", result.scored},
                             {"ppl", result.ppl},
                             {"ppl_error", result.ppl_error},
                             {"seconds", result.seconds},
                             {"chunks", chunks}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << fmt::format("Final estimate: PPL = {:.4f} +/- {:.5f}\n", result.ppl, result.ppl_error);
    std::cerr << fmt::format("{} chunks, {} tokens scored in {:.2f} s\n", result.chunks.size(), result.scored,
                             result.seconds);
  }
  return 0;
}

}  // namespace tessera::cli
