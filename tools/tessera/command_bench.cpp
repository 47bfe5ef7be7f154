// `tessera bench PIPELINE.yaml... [-p 512] [-n 128] [-d 0] [-r 5] [--plot out.svg]`:
// prompt-processing and generation speed of one or more pipelines,
// llama-bench style, with generation also shown as a fraction of the
// memory-bandwidth bound of the device and the sampler chain's cost per token
// next to the decode time; --plot draws speed against context
// depth (or prompt length), one line per pipeline.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "svg_plot.hpp"
#include "tessera/core/bench.hpp"
#include "tessera/core/decode_bound.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/memory_bandwidth.hpp"
#include "tessera/core/session.hpp"

namespace tessera::cli {
namespace {

// "64,512" -> {64, 512}; 0 entries are dropped (llama-bench: -p 0 skips)
// unless `keep_zero` (a depth of 0 is a test).
std::vector<int64_t> parse_counts(const std::string& option, const std::string& text, bool keep_zero = false) {
  std::vector<int64_t> counts;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    int64_t value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || value < 0)
      throw Error(fmt::format("--{}: '{}' is not a token count (expected e.g. 64,512)", option, item));
    if (value > 0 || keep_zero) counts.push_back(value);
  }
  return counts;
}

struct Row {
  BenchResult result;
  double bytes_per_token = 0;  // generation only
  double bound = 0;            // tokens/s the bandwidth allows; 0: not applicable
};

// Columns from `numeric_from` on are right-aligned.
void print_markdown(std::ostream& out, const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows, std::size_t numeric_from) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells, bool numeric_right) {
    out << "|";
    for (std::size_t i = 0; i < cells.size(); ++i)
      out << " "
          << (numeric_right && i >= numeric_from ? fmt::format("{:>{}}", cells[i], width[i])
                                                 : fmt::format("{:<{}}", cells[i], width[i]))
          << " |";
    out << "\n";
  };
  line(header, false);
  out << "|";
  for (std::size_t i = 0; i < width.size(); ++i)
    out << (i >= numeric_from ? " " + std::string(width[i] - 1, '-') + ": |" : " " + std::string(width[i], '-') + " |");
  out << "\n";
  for (const auto& r : rows) line(r, true);
}

// One pipeline's results, ready for each output format.
struct PipelineRun {
  std::string label;  // the pipeline file as given on the command line
  std::vector<Row> rows;
  nlohmann::json json;
  std::vector<std::vector<std::string>> cells;  // markdown rows
  std::vector<std::string> csv;                 // CSV lines
  std::vector<BandwidthMeasurement> bandwidth;
  DecodeTraffic traffic;
  std::string sampler;  // what chose the tokens in generation tests
};

PipelineRun bench_pipeline(const std::string& file, const po::variables_map& vm, const std::vector<BenchTest>& tests,
                           int repetitions, int64_t needed) {
  PipelineRun run;
  run.label = file;
  std::vector<std::string> yaml_threads;  // per compute entry, as configured ("" when the plugin picks)
  auto edit = [&](YAML::Node& doc) {
    if (!doc.IsMap()) return;
    apply_pipeline_overrides(doc, vm);
    if (!vm.count("ctx-size") && doc["context"] && doc["context"]["size"]) {
      // Like llama-bench, the context is sized for the tests when it is too small.
      try {
        if (doc["context"]["size"].as<int64_t>() < needed) doc["context"]["size"] = needed;
      } catch (const YAML::Exception&) {
        // not a number: validation reports it
      }
    }
    if (doc["compute"].IsSequence())
      for (auto entry : doc["compute"]) yaml_threads.push_back(entry["threads"] ? entry["threads"].as<std::string>() : "");
  };
  auto registry = std::make_unique<PluginRegistry>();
  std::vector<std::filesystem::path> defaults = plugin_paths(vm);
  for (const auto& p : PluginRegistry::default_search_paths()) defaults.push_back(p);
  PipelineLoadResult loaded = load_pipeline(file, *registry, defaults, edit);
  std::cerr << loaded.diagnostics.to_string();
  if (!loaded.pipeline) throw Error(fmt::format("{}: the pipeline is not valid (see above)", file));
  if (needed > loaded.pipeline->context.size)
    throw Error(
        fmt::format("the tests need a context of {} but context.size is {}", needed, loaded.pipeline->context.size));

  Progress load_progress("loading " + loaded.pipeline->model.path.filename().string(), 100);
  Session session(*loaded.pipeline, *registry, [&](uint64_t done, uint64_t total) {
    load_progress.update(static_cast<std::size_t>(100 * done / std::max<uint64_t>(total, 1)),
                         fmt::format("{} / {}", format_bytes(done), format_bytes(total)));
  });
  load_progress.finish();

  // Bandwidth first, on an idle device; cached per device after the first run.
  std::string backend_names, threads;
  for (std::size_t b = 0; b < session.backends().size(); ++b) {
    const ComputeBackend& backend = *session.backends()[b];
    const tessera_device_info info = backend.info();
    if (b > 0) backend_names += "+", threads += ",";
    backend_names += backend.name();
    const std::string configured = b < yaml_threads.size() ? yaml_threads[b] : "";
    threads +=
        info.type == TESSERA_DEVICE_CPU ? (configured.empty() ? std::to_string(info.parallelism) : configured) : "-";
    Progress probe("measuring memory bandwidth of " + backend.name(), 1);
    run.bandwidth.push_back(device_bandwidth(backend, *registry, vm.count("refresh-bandwidth") != 0));
    probe.finish();
  }
  // The host test's buffer is gone; peak RSS should describe the model runs.
  reset_peak_rss();
  // With layers split over devices, a token's time is the sum of each
  // device's share of the bytes over its bandwidth: weight the shares by
  // the weight bytes each backend holds.
  double effective_gbs = 0;
  {
    double total = 0, time = 0;
    bool known = true;
    for (std::size_t b = 0; b < run.bandwidth.size(); ++b) {
      const auto bytes = static_cast<double>(session.runtime().weight_bytes(b));
      total += bytes;
      if (bytes > 0 && run.bandwidth[b].gbs <= 0) known = false;
      if (bytes > 0 && run.bandwidth[b].gbs > 0) time += bytes / run.bandwidth[b].gbs;
    }
    if (known && time > 0) effective_gbs = total / time;
  }

  const ModelSummary model = summarize_model(session);
  run.traffic = decode_traffic(session.model(), session.runtime().hparams(), loaded.pipeline->context.kv_type);
  BenchOptions bench_options;
  bench_options.repetitions = repetitions;
  Progress progress("bench", tests.size() * static_cast<std::size_t>(repetitions + 1));
  std::size_t done = 0;
  for (const BenchTest& test : tests) {
    Row row;
    row.result = run_bench_test(session, test, bench_options,
                                [&](int r, int) { progress.update(done + static_cast<std::size_t>(r), test.name()); });
    done += static_cast<std::size_t>(repetitions + 1);
    if (test.kind == BenchKind::generation) {
      row.bytes_per_token = mean_bytes_per_token(run.traffic, std::max<int64_t>(test.depth, 1), test.tokens);
      row.bound = decode_bound_tokens_per_second(effective_gbs, row.bytes_per_token);
    }
    run.rows.push_back(row);
  }
  progress.finish();
  // What each device has in use after the tests (total - free: the model, the
  // plugin's scratch, the driver's context and any other process, as
  // nvidia-smi shows it); meaningful for a GPU, the whole machine for a cpu.
  nlohmann::json devices = nlohmann::json::array();
  std::set<std::pair<std::string, int32_t>> seen;  // one row per device, not per pipeline entry
  for (const auto& backend : session.backends()) {
    if (!seen.insert({backend->name(), backend->device()}).second) continue;
    const tessera_device_info info = backend->info();
    devices.push_back({{"backend", backend->name()},
                       {"device", backend->device()},
                       {"name", info.name},
                       {"type", info.type == TESSERA_DEVICE_GPU ? "gpu" : info.type == TESSERA_DEVICE_CPU ? "cpu" : "other"},
                       {"memory_total_bytes", info.memory_total},
                       {"memory_used_bytes", info.memory_total >= info.memory_free ? info.memory_total - info.memory_free : 0},
                       {"allocated_bytes", backend->allocated_bytes()},
                       {"mapped_bytes", backend->wrapped_bytes()}});
  }

  const std::string model_name = loaded.pipeline->model.path.filename().string();
  nlohmann::json bw = nlohmann::json::array();
  for (const auto& m : run.bandwidth)
    bw.push_back({{"device", m.device}, {"gbs", m.gbs}, {"method", m.method}, {"cached", m.cached}});
  nlohmann::json results = nlohmann::json::array();
  for (const Row& r : run.rows) {
    const BenchResult& b = r.result;
    nlohmann::json j{{"test", b.test.name()},
                     {"kind", b.test.kind == BenchKind::prompt ? "prompt" : "generation"},
                     {"tokens", b.test.tokens},
                     {"depth", b.test.depth},
                     {"repetitions", b.seconds.size()},
                     {"tokens_per_second", b.mean_tokens_per_second},
                     {"tokens_per_second_stddev", b.stddev_tokens_per_second},
                     {"samples_tokens_per_second", b.tokens_per_second},
                     {"samples_seconds", b.seconds},
                     {"device_memory_bytes", b.device_bytes},
                     {"peak_rss_bytes", b.peak_rss_bytes}};
    if (b.test.kind == BenchKind::generation) {
      j["bytes_per_token"] = r.bytes_per_token;
      j["bound_tokens_per_second"] = r.bound;
      j["fraction_of_bound"] = r.bound > 0 ? nlohmann::json(b.mean_tokens_per_second / r.bound) : nlohmann::json();
      j["sampling_seconds_per_token"] = b.sampling_seconds_per_token;
      j["sampling_share_of_decode"] = b.sampling_share_of_decode;
      j["samples_sampling_seconds"] = b.sampling_seconds;
    }
    results.push_back(j);
  }
  const std::size_t samplers = session.sampler() != nullptr ? session.sampler()->size() : 0;
  run.sampler = samplers > 0 ? fmt::format("the sampler chain ({} sampler{})", samplers, samplers == 1 ? "" : "s")
                             : std::string("argmax (no sampler chain)");
  run.json = nlohmann::json{{"pipeline", file},
                            {"model",
                             {{"path", loaded.pipeline->model.path.string()},
                              {"type", model.type},
                              {"size_bytes", model.bytes},
                              {"parameters", model.parameters},
                              {"weight_bytes_per_token", run.traffic.weight_bytes},
                              {"kv_bytes_per_position", run.traffic.kv_bytes_per_position}}},
                            {"backend", backend_names},
                            {"threads", threads},
                            {"context_size", loaded.pipeline->context.size},
                            {"batch", loaded.pipeline->context.batch},
                            {"kv_type", loaded.pipeline->context.kv_type},
                            {"sampler_chain_length", samplers},
                            {"bandwidth_gbs", effective_gbs},
                            {"bandwidth", bw},
                            {"devices", devices},
                            {"results", results}};

  for (const Row& r : run.rows) {
    const BenchResult& b = r.result;
    // Above the bound means the bandwidth figure is stale or was taken at a
    // slow moment (shared hosts drift), not that a kernel beat the memory.
    if (r.bound > 0 && b.mean_tokens_per_second > 1.05 * r.bound)
      std::cerr << fmt::format(
          "warning: {} ran at {:.0f}% of the bound from {:.1f} GB/s: the bandwidth measured is below what this run "
          "reached (a cached figure, or a host whose bandwidth varies); measure it again with --refresh-bandwidth\n",
          b.test.name(), 100.0 * b.mean_tokens_per_second / r.bound, effective_gbs);
    run.cells.push_back({fmt::format("{} {}", model_name, model.type), format_bytes(model.bytes),
                         format_count(model.parameters), backend_names, threads, b.test.name(),
                         fmt::format("{:.2f} ± {:.2f}", b.mean_tokens_per_second, b.stddev_tokens_per_second),
                         r.bound > 0 ? fmt::format("{:.1f}", r.bound) : "-",
                         r.bound > 0 ? fmt::format("{:.1f}%", 100.0 * b.mean_tokens_per_second / r.bound) : "-",
                         format_bytes(b.device_bytes), format_bytes(b.peak_rss_bytes)});
    run.csv.push_back(fmt::format("\"{}\",{},{},{},{},\"{}\",{},{},{},{},{:.4f},{:.4f},{},{},{},{}", model_name,
                                  model.type, model.bytes, model.parameters, backend_names, threads, b.test.name(),
                                  b.test.tokens, b.test.depth, b.seconds.size(), b.mean_tokens_per_second,
                                  b.stddev_tokens_per_second, r.bound > 0 ? fmt::format("{:.4f}", r.bound) : "",
                                  r.bound > 0 ? fmt::format("{:.4f}", b.mean_tokens_per_second / r.bound) : "",
                                  b.device_bytes, b.peak_rss_bytes));
  }
  return run;
}

// Generation speed against depth when several depths were measured, else
// prompt speed against prompt length; one line per pipeline (and per test
// size when there are several).
LinePlot make_plot(const std::vector<PipelineRun>& runs, const std::vector<int64_t>& depths,
                   const std::vector<int64_t>& prompts, const std::vector<int64_t>& gens) {
  LinePlot plot;
  const bool by_depth = depths.size() >= 2 && !gens.empty();
  if (!by_depth && prompts.size() < 2)
    throw Error(
        "--plot needs several depths and a generation test (e.g. -n 32 -d 0,128,256) or several prompt "
        "lengths (e.g. -p 64,128,256)");
  const BenchKind kind = by_depth ? BenchKind::generation : BenchKind::prompt;
  const std::vector<int64_t>& sizes = by_depth ? gens : prompts;
  std::string model;
  for (const PipelineRun& run : runs) {
    const std::string m = run.json["model"]["path"].get<std::string>();
    model = model.empty() || model == m ? m : "several models";
  }
  if (by_depth) {
    plot.title =
        fmt::format("Generation speed vs context depth ({})", std::filesystem::path(model).filename().string());
    plot.x_label = "context depth (tokens already in the context)";
    plot.y_label = "generation tokens/s";
  } else {
    plot.title =
        fmt::format("Prompt processing speed vs prompt length ({})", std::filesystem::path(model).filename().string());
    plot.x_label = "prompt length (tokens)";
    plot.y_label = "prompt tokens/s";
  }
  for (const PipelineRun& run : runs)
    for (const int64_t size : by_depth ? sizes : std::vector<int64_t>{0}) {
      PlotSeries series;
      series.name = by_depth && gens.size() > 1 ? fmt::format("{} tg{}", run.label, size) : run.label;
      if (!by_depth && depths.size() > 1) series.name += fmt::format(" @d{}", depths.front());
      for (const Row& r : run.rows) {
        const BenchTest& t = r.result.test;
        if (t.kind != kind) continue;
        if (by_depth && t.tokens == size)
          series.points.emplace_back(static_cast<double>(t.depth), r.result.mean_tokens_per_second);
        if (!by_depth && t.depth == depths.front())
          series.points.emplace_back(static_cast<double>(t.tokens), r.result.mean_tokens_per_second);
      }
      plot.series.push_back(std::move(series));
    }
  return plot;
}

}  // namespace

int command_bench(const std::vector<std::string>& args) {
  po::options_description options("tessera bench PIPELINE.yaml [PIPELINE.yaml...] [options]");
  options.add_options()("help,h", "show this help")("n-prompt,p", po::value<std::string>()->default_value("512"),
                                                    "prompt tests: tokens, comma-separated (0: none)")(
      "n-gen,n", po::value<std::string>()->default_value("128"), "generation tests: tokens, comma-separated (0: none)")(
      "depth,d", po::value<std::string>()->default_value("0"),
      "context depths: tokens already in the context before each test, comma-separated")(
      "repetitions,r", po::value<int>()->default_value(5), "measured runs per test (after one warm-up run)")(
      "model,m", po::value<std::string>(), "override model.path")("threads,t", po::value<int64_t>(),
                                                                  "override the threads of every cpu compute entry")(
      "ctx-size,c", po::value<int64_t>(), "override context.size (default: raised to fit the tests)")(
      "batch,b", po::value<int64_t>(), "override context.batch")(
      "no-mmap", kNoMmapHelp)(
      "refresh-bandwidth", "measure the memory bandwidth again instead of using the cached value")(
      "plot", po::value<std::string>(),
      "write an SVG chart: generation t/s vs depth (several -d), else prompt t/s vs length (several -p)")(
      "json", "print JSON (one object; an array of them for several pipelines)")("csv", "print CSV");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("pipeline", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("pipeline", -1);
  po::variables_map vm;
  if (!parse_options("bench", args, options, vm, &hidden, &positional)) return 2;
  if (vm.count("help") || !vm.count("pipeline")) {
    std::cout << options;
    return vm.count("help") ? 0 : 2;
  }
  if (vm.count("json") && vm.count("csv")) throw Error("--json and --csv exclude each other");
  const int repetitions = vm["repetitions"].as<int>();
  if (repetitions < 1) throw Error("--repetitions must be at least 1");
  const std::vector<int64_t> prompts = parse_counts("n-prompt", vm["n-prompt"].as<std::string>());
  const std::vector<int64_t> gens = parse_counts("n-gen", vm["n-gen"].as<std::string>());
  const std::vector<int64_t> depths = parse_counts("depth", vm["depth"].as<std::string>(), /*keep_zero=*/true);
  if (depths.empty()) throw Error("--depth: give at least one depth (e.g. 0 or 0,256,512)");
  std::vector<BenchTest> tests;
  for (int64_t n : prompts)
    for (int64_t d : depths) tests.push_back({BenchKind::prompt, n, d});
  for (int64_t n : gens)
    for (int64_t d : depths) tests.push_back({BenchKind::generation, n, d});
  if (tests.empty()) throw Error("no tests: give -p and/or -n with a non-zero token count");
  int64_t needed = 0;
  for (const BenchTest& t : tests) needed = std::max(needed, t.positions());
  std::filesystem::path plot_path;
  if (vm.count("plot")) {
    plot_path = vm["plot"].as<std::string>();
    // Refuse an impossible plot before spending minutes on the runs.
    if (!(depths.size() >= 2 && !gens.empty()) && prompts.size() < 2)
      throw Error(
          "--plot needs several depths and a generation test (e.g. -n 32 -d 0,128,256) or several prompt "
          "lengths (e.g. -p 64,128,256)");
  }

  const auto files = vm["pipeline"].as<std::vector<std::string>>();
  std::vector<PipelineRun> runs;
  for (const std::string& file : files) runs.push_back(bench_pipeline(file, vm, tests, repetitions, needed));

  if (!plot_path.empty()) {
    const std::string svg = render_svg(make_plot(runs, depths, prompts, gens));
    std::ofstream out(plot_path, std::ios::binary);
    if (!out || !(out << svg)) throw Error(fmt::format("cannot write the plot to '{}'", plot_path.string()));
    std::cerr << fmt::format("plot written to {}\n", plot_path.string());
  }

  const bool several = runs.size() > 1;
  if (vm.count("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const PipelineRun& run : runs) out.push_back(run.json);
    std::cout << (several ? out : out[0]).dump(2) << "\n";
    return 0;
  }
  if (vm.count("csv")) {
    std::cout << (several ? "pipeline," : "")
              << "model,type,size_bytes,parameters,backend,threads,test,tokens,depth,repetitions,tokens_per_second,"
                 "stddev,bound_tokens_per_second,fraction_of_bound,device_memory_bytes,peak_rss_bytes\n";
    for (const PipelineRun& run : runs)
      for (const std::string& line : run.csv) std::cout << (several ? "\"" + run.label + "\"," : "") << line << "\n";
    return 0;
  }

  std::vector<std::string> header{"model", "size",      "params",   "backend",    "threads", "test",
                                  "t/s",   "bound t/s", "of bound", "device mem", "peak RSS"};
  std::vector<std::vector<std::string>> cells;
  for (const PipelineRun& run : runs)
    for (auto row : run.cells) {
      if (several) row.insert(row.begin(), run.label);
      cells.push_back(std::move(row));
    }
  if (several) header.insert(header.begin(), "pipeline");
  print_markdown(std::cout, header, cells, several ? 7 : 6);
  std::cout << "\n";
  for (const PipelineRun& run : runs) {
    for (const auto& m : run.bandwidth)
      std::cout << fmt::format("bandwidth {}: {:.1f} GB/s ({}{})\n", m.device, m.gbs, m.method,
                               m.cached ? ", cached" : "");
    std::cout << fmt::format("{}bound = bandwidth / (weights {} + KV {} per position read per token)\n",
                             several ? run.label + ": " : "", format_bytes(run.traffic.weight_bytes),
                             format_bytes(run.traffic.kv_bytes_per_position));
    // t/s above is the model alone; what choosing the tokens adds to it.
    for (const Row& r : run.rows)
      if (r.result.test.kind == BenchKind::generation)
        std::cout << fmt::format("{}{} sampling by {}: {:.1f} us/token, {:.1f}% of decode\n",
                                 several ? run.label + ": " : "", r.result.test.name(), run.sampler,
                                 1e6 * r.result.sampling_seconds_per_token, 100 * r.result.sampling_share_of_decode);
  }
  return 0;
}

}  // namespace tessera::cli
