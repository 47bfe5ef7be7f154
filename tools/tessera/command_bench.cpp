// `tessera bench PIPELINE.yaml [-p 512] [-n 128] [-r 5]`: prompt-processing
// and generation speed of a pipeline, llama-bench style, with generation also
// shown as a fraction of the memory-bandwidth bound of the device.
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "tessera/core/bench.hpp"
#include "tessera/core/decode_bound.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/memory_bandwidth.hpp"
#include "tessera/core/session.hpp"

namespace tessera::cli {
namespace {

// "64,512" -> {64, 512}; 0 entries are dropped (llama-bench: -p 0 skips).
std::vector<int64_t> parse_counts(const std::string& option, const std::string& text) {
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
    if (value > 0) counts.push_back(value);
  }
  return counts;
}

struct Row {
  BenchResult result;
  double bytes_per_token = 0;  // generation only
  double bound = 0;            // tokens/s the bandwidth allows; 0: not applicable
};

void print_markdown(std::ostream& out, const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells, bool numeric_right) {
    out << "|";
    for (std::size_t i = 0; i < cells.size(); ++i)
      out << " " << (numeric_right && i >= 6 ? fmt::format("{:>{}}", cells[i], width[i]) : fmt::format("{:<{}}", cells[i], width[i]))
          << " |";
    out << "\n";
  };
  line(header, false);
  out << "|";
  for (std::size_t i = 0; i < width.size(); ++i)
    out << (i >= 6 ? " " + std::string(width[i] - 1, '-') + ": |" : " " + std::string(width[i], '-') + " |");
  out << "\n";
  for (const auto& r : rows) line(r, true);
}

}  // namespace

int command_bench(const std::vector<std::string>& args) {
  po::options_description options("tessera bench PIPELINE.yaml [options]");
  options.add_options()("help,h", "show this help")(
      "n-prompt,p", po::value<std::string>()->default_value("512"), "prompt tests: tokens, comma-separated (0: none)")(
      "n-gen,n", po::value<std::string>()->default_value("128"), "generation tests: tokens, comma-separated (0: none)")(
      "repetitions,r", po::value<int>()->default_value(5), "measured runs per test (after one warm-up run)")(
      "model,m", po::value<std::string>(), "override model.path")(
      "threads,t", po::value<int64_t>(), "override the threads of every cpu compute entry")(
      "ctx-size,c", po::value<int64_t>(), "override context.size (default: raised to fit the tests)")(
      "batch,b", po::value<int64_t>(), "override context.batch")(
      "refresh-bandwidth", "measure the memory bandwidth again instead of using the cached value")(
      "json", "print one JSON object")("csv", "print CSV");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("pipeline", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("pipeline", 1);
  po::variables_map vm;
  if (!parse_options("bench", args, options, vm, &hidden, &positional)) return 2;
  if (vm.count("help") || !vm.count("pipeline")) {
    std::cout << options;
    return vm.count("help") ? 0 : 2;
  }
  if (vm.count("json") && vm.count("csv")) throw Error("--json and --csv exclude each other");
  const int repetitions = vm["repetitions"].as<int>();
  if (repetitions < 1) throw Error("--repetitions must be at least 1");
  std::vector<BenchTest> tests;
  for (int64_t n : parse_counts("n-prompt", vm["n-prompt"].as<std::string>())) tests.push_back({BenchKind::prompt, n});
  for (int64_t n : parse_counts("n-gen", vm["n-gen"].as<std::string>())) tests.push_back({BenchKind::generation, n});
  if (tests.empty()) throw Error("no tests: give -p and/or -n with a non-zero token count");
  int64_t needed = 0;
  for (const BenchTest& t : tests) needed = std::max(needed, t.kind == BenchKind::prompt ? t.tokens : t.tokens + 1);

  std::vector<std::string> yaml_threads;  // per compute entry, as configured ("" when the plugin picks)
  auto edit = [&](YAML::Node& doc) {
    if (!doc.IsMap()) return;
    if (vm.count("model")) doc["model"]["path"] = std::filesystem::absolute(vm["model"].as<std::string>()).string();
    if (vm.count("ctx-size")) {
      doc["context"]["size"] = vm["ctx-size"].as<int64_t>();
    } else if (doc["context"] && doc["context"]["size"]) {
      // Like llama-bench, the context is sized for the tests when it is too small.
      try {
        if (doc["context"]["size"].as<int64_t>() < needed) doc["context"]["size"] = needed;
      } catch (const YAML::Exception&) {
        // not a number: validation reports it
      }
    }
    if (vm.count("batch")) doc["context"]["batch"] = vm["batch"].as<int64_t>();
    if (doc["compute"].IsSequence())
      for (auto entry : doc["compute"]) {
        const bool cpu = entry["backend"] && entry["backend"].as<std::string>() == "cpu";
        if (cpu && vm.count("threads")) entry["threads"] = vm["threads"].as<int64_t>();
        yaml_threads.push_back(entry["threads"] ? entry["threads"].as<std::string>() : "");
      }
  };
  auto registry = std::make_unique<PluginRegistry>();
  std::vector<std::filesystem::path> defaults = plugin_paths(vm);
  for (const auto& p : PluginRegistry::default_search_paths()) defaults.push_back(p);
  PipelineLoadResult loaded = load_pipeline(vm["pipeline"].as<std::string>(), *registry, defaults, edit);
  std::cerr << loaded.diagnostics.to_string();
  if (!loaded.pipeline) return 1;
  if (needed > loaded.pipeline->context.size)
    throw Error(fmt::format("the tests need a context of {} but context.size is {}", needed,
                            loaded.pipeline->context.size));

  Progress load_progress("loading " + loaded.pipeline->model.path.filename().string(), 100);
  Session session(*loaded.pipeline, *registry, [&](uint64_t done, uint64_t total) {
    load_progress.update(static_cast<std::size_t>(100 * done / std::max<uint64_t>(total, 1)),
                         fmt::format("{} / {}", format_bytes(done), format_bytes(total)));
  });
  load_progress.finish();

  // Bandwidth first, on an idle device; cached per device after the first run.
  std::vector<BandwidthMeasurement> bandwidth;
  std::string backend_names, threads;
  for (std::size_t b = 0; b < session.backends().size(); ++b) {
    const ComputeBackend& backend = *session.backends()[b];
    const tessera_device_info info = backend.info();
    if (b > 0) backend_names += "+", threads += ",";
    backend_names += backend.name();
    const std::string configured = b < yaml_threads.size() ? yaml_threads[b] : "";
    threads += info.type == TESSERA_DEVICE_CPU ? (configured.empty() ? std::to_string(info.parallelism) : configured)
                                               : "-";
    Progress probe("measuring memory bandwidth of " + backend.name(), 1);
    bandwidth.push_back(device_bandwidth(backend, *registry, vm.count("refresh-bandwidth") != 0));
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
    for (std::size_t b = 0; b < bandwidth.size(); ++b) {
      const auto bytes = static_cast<double>(session.runtime().weight_bytes(b));
      total += bytes;
      if (bytes > 0 && bandwidth[b].gbs <= 0) known = false;
      if (bytes > 0 && bandwidth[b].gbs > 0) time += bytes / bandwidth[b].gbs;
    }
    if (known && time > 0) effective_gbs = total / time;
  }

  const ModelSummary model = summarize_model(session);
  const DecodeTraffic traffic =
      decode_traffic(session.model(), session.runtime().hparams(), loaded.pipeline->context.kv_type);
  BenchOptions bench_options;
  bench_options.repetitions = repetitions;
  std::vector<Row> rows;
  Progress progress("bench", tests.size() * static_cast<std::size_t>(repetitions + 1));
  std::size_t done = 0;
  for (const BenchTest& test : tests) {
    Row row;
    row.result = run_bench_test(session, test, bench_options, [&](int run, int) {
      progress.update(done + static_cast<std::size_t>(run), test.name());
    });
    done += static_cast<std::size_t>(repetitions + 1);
    if (test.kind == BenchKind::generation) {
      row.bytes_per_token = mean_bytes_per_token(traffic, 1, test.tokens);
      row.bound = decode_bound_tokens_per_second(effective_gbs, row.bytes_per_token);
    }
    rows.push_back(row);
  }
  progress.finish();

  const std::string model_name = loaded.pipeline->model.path.filename().string();
  if (vm.count("json")) {
    nlohmann::json bw = nlohmann::json::array();
    for (const auto& m : bandwidth)
      bw.push_back({{"device", m.device}, {"gbs", m.gbs}, {"method", m.method}, {"cached", m.cached}});
    nlohmann::json results = nlohmann::json::array();
    for (const Row& r : rows) {
      const BenchResult& b = r.result;
      nlohmann::json j{{"test", b.test.name()},
                       {"kind", b.test.kind == BenchKind::prompt ? "prompt" : "generation"},
                       {"tokens", b.test.tokens},
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
      }
      results.push_back(j);
    }
    const nlohmann::json out{
        {"model",
         {{"path", loaded.pipeline->model.path.string()},
          {"type", model.type},
          {"size_bytes", model.bytes},
          {"parameters", model.parameters},
          {"weight_bytes_per_token", traffic.weight_bytes},
          {"kv_bytes_per_position", traffic.kv_bytes_per_position}}},
        {"backend", backend_names},
        {"threads", threads},
        {"context_size", loaded.pipeline->context.size},
        {"batch", loaded.pipeline->context.batch},
        {"kv_type", loaded.pipeline->context.kv_type},
        {"bandwidth_gbs", effective_gbs},
        {"bandwidth", bw},
        {"results", results}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  const std::vector<std::string> header{"model", "size", "params", "backend", "threads", "test", "t/s",
                                        "bound t/s", "of bound", "device mem", "peak RSS"};
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : rows) {
    const BenchResult& b = r.result;
    cells.push_back({fmt::format("{} {}", model_name, model.type), format_bytes(model.bytes),
                     format_count(model.parameters), backend_names, threads, b.test.name(),
                     fmt::format("{:.2f} ± {:.2f}", b.mean_tokens_per_second, b.stddev_tokens_per_second),
                     r.bound > 0 ? fmt::format("{:.1f}", r.bound) : "-",
                     r.bound > 0 ? fmt::format("{:.1f}%", 100.0 * b.mean_tokens_per_second / r.bound) : "-",
                     format_bytes(b.device_bytes), format_bytes(b.peak_rss_bytes)});
  }
  if (vm.count("csv")) {
    std::cout << "model,type,size_bytes,parameters,backend,threads,test,tokens,repetitions,tokens_per_second,"
                 "stddev,bound_tokens_per_second,fraction_of_bound,device_memory_bytes,peak_rss_bytes\n";
    for (const Row& r : rows) {
      const BenchResult& b = r.result;
      std::cout << fmt::format("\"{}\",{},{},{},{},\"{}\",{},{},{},{:.4f},{:.4f},{},{},{},{}\n", model_name, model.type,
                               model.bytes, model.parameters, backend_names, threads, b.test.name(), b.test.tokens,
                               b.seconds.size(), b.mean_tokens_per_second, b.stddev_tokens_per_second,
                               r.bound > 0 ? fmt::format("{:.4f}", r.bound) : "",
                               r.bound > 0 ? fmt::format("{:.4f}", b.mean_tokens_per_second / r.bound) : "",
                               b.device_bytes, b.peak_rss_bytes);
    }
    return 0;
  }
  print_markdown(std::cout, header, cells);
  std::cout << "\n";
  for (const auto& m : bandwidth)
    std::cout << fmt::format("bandwidth {}: {:.1f} GB/s ({}{})\n", m.device, m.gbs, m.method,
                             m.cached ? ", cached" : "");
  std::cout << fmt::format("bound = bandwidth / (weights {} + KV {} per position read per token)\n",
                           format_bytes(traffic.weight_bytes), format_bytes(traffic.kv_bytes_per_position));
  return 0;
}

}  // namespace tessera::cli
