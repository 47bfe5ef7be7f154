// `tessera ab A.yaml B.yaml -f TEXT`: two pipelines over the same model, side
// by side: speed, memory, perplexity, and how closely B's next-token
// distributions follow A's on the same tokens (top-1 agreement, KL(A||B),
// largest logit difference), plus whether greedy continuations match.
// --fail-kl / --fail-top1 turn it into a gate for a new kernel or backend.
// Without -f the compared tokens are the prompt and A's greedy continuation
// (no perplexity then): a quick check, weaker than a real text.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "tessera/core/ab_compare.hpp"
#include "tessera/core/bench.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/generator.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/perplexity.hpp"
#include "tessera/core/session.hpp"

namespace tessera::cli {
namespace {

// Exit status when a --fail-* gate is not met (1: error, 2: usage).
constexpr int kGateFailed = 3;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read the text file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) throw Error(fmt::format("the text file '{}' is empty", path));
  return text.str();
}

// Everything measured on one side.
struct Side {
  std::string label;  // "A" or "B"
  std::string file;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Session> session;
  uint64_t rss_added = 0;  // resident bytes that loading this pipeline added
  std::optional<BenchResult> prompt_speed, generation_speed;
  std::optional<PerplexityResult> perplexity;
  GenerationResult greedy;
};

std::string backends_text(const Session& session) {
  std::string text;
  for (const auto& backend : session.backends()) {
    if (!text.empty()) text += "+";
    text += backend->name();
    const tessera_device_info info = backend->info();
    if (info.type == TESSERA_DEVICE_CPU) text += fmt::format(" ({} threads)", info.parallelism);
  }
  return text;
}

nlohmann::json kernels_json(const Side& side) {
  nlohmann::json out = nlohmann::json::array();
  const auto& instances = side.session->kernels();
  for (std::size_t i = 0; i < side.pipeline->kernels.size(); ++i) {
    const KernelEntry& entry = side.pipeline->kernels[i];
    nlohmann::json ops = nlohmann::json::array();
    for (const KernelOverride& op : entry.ops) ops.push_back(op.text);
    out.push_back({{"plugin", entry.plugin},
                   {"backend", entry.backend},
                   {"ops", ops},
                   {"calls", i < instances.size() ? instances[i]->calls : 0}});
  }
  return out;
}

std::string kernels_text(const Side& side) {
  std::string text;
  for (const auto& k : kernels_json(side)) {
    if (!text.empty()) text += ", ";
    std::string ops;
    for (const auto& op : k["ops"]) {
      if (!ops.empty()) ops += "+";
      ops += op.get<std::string>();
    }
    text += fmt::format("{} {} on {} ({} calls)", k["plugin"].get<std::string>(), ops, k["backend"].get<std::string>(),
                        k["calls"].get<uint64_t>());
  }
  return text.empty() ? "-" : text;
}

uint64_t device_bytes(const Session& session) {
  uint64_t bytes = 0;
  for (const auto& backend : session.backends()) bytes += backend->used_bytes();
  return bytes;
}

// The part of device_bytes that is the mapped model file used in place.
uint64_t mapped_bytes(const Session& session) {
  uint64_t bytes = 0;
  for (const auto& backend : session.backends()) bytes += backend->wrapped_bytes();
  return bytes;
}

std::string memory_cell(const Session& session) {
  const uint64_t mapped = mapped_bytes(session);
  return mapped == 0 ? format_bytes(device_bytes(session))
                     : fmt::format("{} ({} mapped)", format_bytes(device_bytes(session)), format_bytes(mapped));
}

nlohmann::json speed_json(const std::optional<BenchResult>& r) {
  if (!r) return nullptr;
  return {{"test", r->test.name()},
          {"tokens", r->test.tokens},
          {"tokens_per_second", r->mean_tokens_per_second},
          {"tokens_per_second_stddev", r->stddev_tokens_per_second},
          {"samples_tokens_per_second", r->tokens_per_second}};
}

nlohmann::json ratio(double a, double b) { return a > 0 ? nlohmann::json(b / a) : nlohmann::json(); }

}  // namespace

int command_ab(const std::vector<std::string>& args) {
  po::options_description options("tessera ab A.yaml B.yaml [-f TEXT] [options]");
  options.add_options()("help,h", "show this help")(
      "file,f", po::value<std::string>(),
      "the text: perplexity of each, and the tokens both distributions are compared on (default: the prompt and "
      "A's greedy continuation, no perplexity)")("ctx", po::value<int64_t>(),
                                                 "tokens per chunk (default: 512, at most the smaller context.size)")(
      "chunks", po::value<int64_t>()->default_value(0), "use at most this many chunks of the text (0: all)")(
      "prompt,p", po::value<std::string>()->default_value("Once upon a time"), "prompt of the greedy continuations")(
      "n-predict,n", po::value<int64_t>()->default_value(64), "tokens of each greedy continuation (0: skip)")(
      "speed-prompt", po::value<int64_t>()->default_value(128), "prompt speed test: tokens (0: skip)")(
      "speed-gen", po::value<int64_t>()->default_value(32), "generation speed test: tokens (0: skip)")(
      "repetitions,r", po::value<int>()->default_value(3),
      "measured runs per speed test, after one warm-up (0: no speed tests)")(
      "threads,t", po::value<int64_t>(), "override the threads of every cpu compute entry of both")(
      "no-mmap", kNoMmapHelp)(
      "fail-kl", po::value<double>(), "exit with status 3 when the MEAN KL(A||B) per position exceeds this")(
      "fail-top1", po::value<double>(), "exit with status 3 when the top-1 agreement rate (0..1) is below this")(
      "decode",
      "compare distributions with the tokens evaluated one at a time (the decode path, mat-vec kernels) "
      "instead of in batches (the prompt path)")(
      "allow-different-models", "compare even when the pipelines load different models (e.g. two quantizations)")(
      "json", "print one JSON object");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("pipelines", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("pipelines", -1);
  po::variables_map vm;
  if (!parse_options("ab", args, options, vm, &hidden, &positional)) return 2;
  const std::size_t n_pipelines = vm.count("pipelines") ? vm["pipelines"].as<std::vector<std::string>>().size() : 0;
  if (vm.count("help") || n_pipelines != 2) {
    if (!vm.count("help")) std::cerr << "tessera ab: two pipelines are required\n\n";
    std::cout << options;
    return vm.count("help") ? 0 : 2;
  }
  const int64_t max_chunks = vm["chunks"].as<int64_t>();
  if (max_chunks < 0) throw Error("--chunks must be 0 (all) or positive");
  const int repetitions = vm["repetitions"].as<int>();
  if (repetitions < 0) throw Error("--repetitions must be 0 (no speed tests) or positive");
  const int64_t speed_prompt = vm["speed-prompt"].as<int64_t>(), speed_gen = vm["speed-gen"].as<int64_t>();
  const int64_t n_predict = vm["n-predict"].as<int64_t>();
  if (speed_prompt < 0 || speed_gen < 0 || n_predict < 0) throw Error("token counts must not be negative");
  std::optional<double> fail_kl, fail_top1;
  if (vm.count("fail-kl")) {
    fail_kl = vm["fail-kl"].as<double>();
    if (!(*fail_kl >= 0)) throw Error(fmt::format("--fail-kl {}: expected a KL bound >= 0 (nats)", *fail_kl));
  }
  if (vm.count("fail-top1")) {
    fail_top1 = vm["fail-top1"].as<double>();
    if (!(*fail_top1 >= 0 && *fail_top1 <= 1))
      throw Error(fmt::format("--fail-top1 {}: expected a rate between 0 and 1", *fail_top1));
  }
  const bool have_text = vm.count("file") != 0;
  if (!have_text && n_predict == 0)
    throw Error("nothing to compare: give a text (-f TEXT) or a greedy continuation (-n > 0)");
  const std::string text_path = have_text ? vm["file"].as<std::string>() : "";
  const std::string text = have_text ? read_text(text_path) : "";  // before loading models: a typo fails fast
  const std::string prompt = vm["prompt"].as<std::string>();

  // Both contexts must hold the chunks, the speed tests and the continuation.
  const std::optional<int64_t> ctx_option = vm.count("ctx") ? std::optional(vm["ctx"].as<int64_t>()) : std::nullopt;
  // (A prompt has at most one token per byte, plus BOS and a space prefix.)
  const int64_t needed = std::max({ctx_option.value_or(0), speed_prompt, speed_gen + 1,
                                   n_predict > 0 ? static_cast<int64_t>(prompt.size()) + 2 + n_predict : 0});
  auto edit = [&](YAML::Node& doc) {
    if (!doc.IsMap()) return;
    if (doc["context"] && doc["context"]["size"]) {
      try {
        if (doc["context"]["size"].as<int64_t>() < needed) doc["context"]["size"] = needed;
      } catch (const YAML::Exception&) {
        // not a number: validation reports it
      }
    }
    apply_pipeline_overrides(doc, vm);  // -t and --no-mmap, on both
  };
  // One registry: both pipelines' plugins are loaded once.
  auto registry = std::make_unique<PluginRegistry>();
  std::vector<std::filesystem::path> defaults = plugin_paths(vm);
  for (const auto& p : PluginRegistry::default_search_paths()) defaults.push_back(p);
  const auto files = vm["pipelines"].as<std::vector<std::string>>();
  Side sides[2];
  for (int i = 0; i < 2; ++i) {
    sides[i].label = i == 0 ? "A" : "B";
    sides[i].file = files[static_cast<std::size_t>(i)];
    PipelineLoadResult loaded = load_pipeline(sides[i].file, *registry, defaults, edit);
    std::cerr << loaded.diagnostics.to_string();
    if (!loaded.pipeline)
      throw Error(fmt::format("pipeline {} ({}) is not valid (see above)", sides[i].label, sides[i].file));
    sides[i].pipeline = std::move(loaded.pipeline);
  }
  Side& a = sides[0];
  Side& b = sides[1];

  // The same model, or the comparison means something else: refuse before
  // spending time uploading weights.
  {
    const ModelFile ma(a.pipeline->model.path, *registry, a.pipeline->model.format);
    const ModelFile mb(b.pipeline->model.path, *registry, b.pipeline->model.format);
    if (const auto difference = model_difference(ma, mb); difference && !vm.count("allow-different-models"))
      throw Error(
          fmt::format("the pipelines load different models: {}. tessera ab compares two ways of running one "
                      "model; pass --allow-different-models to compare anyway",
                      *difference));
  }

  for (Side* side : {&a, &b}) {
    Progress progress(fmt::format("loading {} ({})", side->label, side->pipeline->model.path.filename().string()), 100);
    const uint64_t before = current_rss_bytes();
    side->session = std::make_unique<Session>(*side->pipeline, *registry, [&](uint64_t done, uint64_t total) {
      progress.update(static_cast<std::size_t>(100 * done / std::max<uint64_t>(total, 1)),
                      fmt::format("{} / {}", format_bytes(done), format_bytes(total)));
    });
    progress.finish();
    const uint64_t after = current_rss_bytes();
    side->rss_added = after > before ? after - before : 0;
  }

  // The same tokens for both: A's tokenization, checked against B's.
  const Tokenizer& tokenizer = a.session->tokenizer();
  const bool add_bos = tokenizer.adds_bos() && tokenizer.bos_id() >= 0;
  std::vector<int32_t> tokens = tokenizer.encode(have_text ? text : prompt, add_bos);
  if (b.session->tokenizer().encode(have_text ? text : prompt, add_bos) != tokens)
    throw Error(
        fmt::format("the pipelines tokenize {} differently (different tokenizers); their distributions "
                    "cannot be compared token by token",
                    have_text ? "'" + text_path + "'" : "the prompt"));
  const int64_t room = std::min(a.pipeline->context.size, b.pipeline->context.size);
  int64_t ctx = ctx_option.value_or(std::min<int64_t>(512, room));

  // Speed first, while nothing else has touched the caches of either.
  if (repetitions > 0 && (speed_prompt > 0 || speed_gen > 0)) {
    BenchOptions bench;
    bench.repetitions = repetitions;
    std::vector<BenchTest> tests;
    if (speed_prompt > 0) tests.push_back({BenchKind::prompt, speed_prompt, 0});
    if (speed_gen > 0) tests.push_back({BenchKind::generation, speed_gen, 0});
    Progress progress("speed", 2 * tests.size() * static_cast<std::size_t>(repetitions + 1));
    std::size_t done = 0;
    for (const BenchTest& test : tests)
      for (Side* side : {&a, &b}) {
        BenchResult r = run_bench_test(*side->session, test, bench, [&](int run, int) {
          progress.update(done + static_cast<std::size_t>(run), side->label + " " + test.name());
        });
        done += static_cast<std::size_t>(repetitions + 1);
        (test.kind == BenchKind::prompt ? side->prompt_speed : side->generation_speed) = std::move(r);
      }
    progress.finish();
  }

  // Greedy continuations: argmax decoding whatever sampler the pipeline names.
  std::optional<int64_t> divergence;
  if (n_predict > 0) {
    GenerationSettings settings;
    settings.max_tokens = n_predict;
    for (Side* side : {&a, &b}) {
      Generator generator(side->session->runtime(), side->session->tokenizer(), nullptr);
      side->greedy = generator.generate(prompt, settings);
    }
    divergence = first_divergence(a.greedy.generated_ids, b.greedy.generated_ids);
  }

  if (!have_text) {
    // The text A wrote itself, read back by both.
    tokens = a.greedy.prompt_ids;
    tokens.insert(tokens.end(), a.greedy.generated_ids.begin(), a.greedy.generated_ids.end());
    ctx = static_cast<int64_t>(tokens.size());
  }

  // What perplexity and the comparison will evaluate, for the progress lines.
  const int64_t whole_chunks = ctx > 0 ? static_cast<int64_t>(tokens.size()) / ctx : 0;
  const auto n_chunks = static_cast<std::size_t>(max_chunks > 0 ? std::min(whole_chunks, max_chunks) : whole_chunks);
  PerplexityOptions ppl_options;
  ppl_options.context = ctx;
  ppl_options.max_chunks = max_chunks;
  if (add_bos) ppl_options.bos_id = tokenizer.bos_id();
  for (Side* side : have_text ? std::vector<Side*>{&a, &b} : std::vector<Side*>{}) {
    Progress progress("perplexity " + side->label, n_chunks);
    side->perplexity = compute_perplexity(side->session->runtime(), tokens, ppl_options, [&](const PerplexityChunk& c) {
      progress.update(static_cast<std::size_t>(c.index + 1), fmt::format("PPL {:.4f}", c.ppl));
    });
    progress.finish();
  }

  AgreementOptions agreement_options;
  agreement_options.context = ctx;
  agreement_options.max_chunks = max_chunks;
  // The greedy trace already starts with the prompt's BOS.
  if (have_text) agreement_options.bos_id = ppl_options.bos_id;
  agreement_options.token_by_token = vm.count("decode") != 0;
  Progress agreement_progress("comparing distributions", n_chunks);
  const AgreementResult agreement = compare_distributions(
      a.session->runtime(), b.session->runtime(), tokens, agreement_options,
      [&](int64_t done, int64_t) { agreement_progress.update(static_cast<std::size_t>(done), "chunk"); });
  agreement_progress.finish();

  // The gates.
  std::vector<std::string> failures;
  if (fail_kl && agreement.mean_kl > *fail_kl)
    failures.push_back(fmt::format("mean KL(A||B) {:.6g} exceeds --fail-kl {:g}", agreement.mean_kl, *fail_kl));
  if (fail_top1 && agreement.top1_rate < *fail_top1)
    failures.push_back(
        fmt::format("top-1 agreement {:.6g} is below --fail-top1 {:g}", agreement.top1_rate, *fail_top1));

  if (vm.count("json")) {
    auto side_json = [&](const Side& s) {
      nlohmann::json ppl;  // null without a text
      if (s.perplexity)
        ppl = {{"ppl", s.perplexity->ppl},
               {"ppl_error", s.perplexity->ppl_error},
               {"chunks", s.perplexity->chunks.size()},
               {"scored_tokens", s.perplexity->scored}};
      return nlohmann::json{
          {"pipeline", s.file},
          {"model", s.pipeline->model.path.string()},
          {"backends", backends_text(*s.session)},
          {"kernels", kernels_json(s)},
          {"speed", {{"prompt", speed_json(s.prompt_speed)}, {"generation", speed_json(s.generation_speed)}}},
          {"memory",
           {{"device_bytes", device_bytes(*s.session)},
            {"mapped_bytes", mapped_bytes(*s.session)},
            {"host_rss_added_bytes", s.rss_added}}},
          {"perplexity", ppl},
          {"greedy", {{"ids", s.greedy.generated_ids}, {"text", s.greedy.text}}}};
    };
    const auto tps = [](const std::optional<BenchResult>& r) { return r ? r->mean_tokens_per_second : 0.0; };
    nlohmann::json gates{{"fail_kl", fail_kl ? nlohmann::json(*fail_kl) : nlohmann::json()},
                         {"fail_top1", fail_top1 ? nlohmann::json(*fail_top1) : nlohmann::json()},
                         {"kl_statistic", "mean"},
                         {"passed", failures.empty()},
                         {"failures", failures}};
    const nlohmann::json out{
        {"a", side_json(a)},
        {"b", side_json(b)},
        {"ratio_b_over_a",
         {{"prompt_tokens_per_second", ratio(tps(a.prompt_speed), tps(b.prompt_speed))},
          {"generation_tokens_per_second", ratio(tps(a.generation_speed), tps(b.generation_speed))},
          {"device_bytes",
           ratio(static_cast<double>(device_bytes(*a.session)), static_cast<double>(device_bytes(*b.session)))},
          {"perplexity", have_text ? ratio(a.perplexity->ppl, b.perplexity->ppl) : nlohmann::json()}}},
        {"text",
         {{"path", have_text ? nlohmann::json(text_path) : nlohmann::json()},
          {"source", have_text ? "file" : "prompt and A's greedy continuation"},
          {"tokens", tokens.size()}}},
        {"context", ctx},
        {"agreement",
         {{"chunks", agreement.chunks},
          {"positions", agreement.positions},
          {"top1_agreements", agreement.top1_agreements},
          {"top1_rate", agreement.top1_rate},
          {"mean_kl", agreement.mean_kl},
          {"max_kl", agreement.max_kl},
          {"max_kl_position", agreement.max_kl_position},
          {"max_abs_logit_difference", agreement.max_abs_logit_difference},
          {"evaluation", agreement_options.token_by_token ? "token by token" : "batched"}}},
        {"greedy",
         {{"prompt", prompt},
          {"tokens", n_predict},
          {"identical", n_predict > 0 ? nlohmann::json(!divergence.has_value()) : nlohmann::json()},
          {"first_divergence", divergence ? nlohmann::json(*divergence) : nlohmann::json()}}},
        {"peak_rss_bytes", peak_rss_bytes()},
        {"gates", gates}};
    std::cout << out.dump(2) << "\n";
  } else {
    auto speed_cell = [](const std::optional<BenchResult>& r) {
      return r ? fmt::format("{:.2f} ± {:.2f}", r->mean_tokens_per_second, r->stddev_tokens_per_second)
               : std::string("-");
    };
    auto ratio_cell = [](double va, double vb) { return va > 0 ? fmt::format("{:.3f}", vb / va) : std::string("-"); };
    auto tps = [](const std::optional<BenchResult>& r) { return r ? r->mean_tokens_per_second : 0.0; };
    std::vector<std::vector<std::string>> rows{
        {"pipeline", a.file, b.file, ""},
        {"model", a.pipeline->model.path.filename().string(), b.pipeline->model.path.filename().string(), ""},
        {"backends", backends_text(*a.session), backends_text(*b.session), ""},
        {"kernel plugins", kernels_text(a), kernels_text(b), ""},
        {fmt::format("prompt t/s (pp{})", speed_prompt), speed_cell(a.prompt_speed), speed_cell(b.prompt_speed),
         ratio_cell(tps(a.prompt_speed), tps(b.prompt_speed))},
        {fmt::format("generation t/s (tg{})", speed_gen), speed_cell(a.generation_speed),
         speed_cell(b.generation_speed), ratio_cell(tps(a.generation_speed), tps(b.generation_speed))},
        {"device memory", memory_cell(*a.session), memory_cell(*b.session),
         ratio_cell(static_cast<double>(device_bytes(*a.session)), static_cast<double>(device_bytes(*b.session)))},
        {"host RSS added by loading", format_bytes(a.rss_added), format_bytes(b.rss_added), ""},
        {have_text ? fmt::format("perplexity (ctx {}, {} chunks)", ctx, a.perplexity->chunks.size())
                   : std::string("perplexity (needs -f TEXT)"),
         have_text ? fmt::format("{:.4f} ± {:.4f}", a.perplexity->ppl, a.perplexity->ppl_error) : "-",
         have_text ? fmt::format("{:.4f} ± {:.4f}", b.perplexity->ppl, b.perplexity->ppl_error) : "-",
         have_text ? ratio_cell(a.perplexity->ppl, b.perplexity->ppl) : ""}};
    std::vector<std::size_t> width{6, 1, 1, 3};
    for (const auto& r : rows)
      for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    auto line = [&](const std::vector<std::string>& cells) {
      std::cout << "|";
      for (std::size_t i = 0; i < cells.size(); ++i) std::cout << fmt::format(" {:<{}} |", cells[i], width[i]);
      std::cout << "\n";
    };
    line({"metric", "A", "B", "B/A"});
    std::cout << "|";
    for (std::size_t w : width) std::cout << " " << std::string(w, '-') << " |";
    std::cout << "\n";
    for (const auto& r : rows) line(r);

    std::cout << fmt::format("\nagreement of B with A over {} positions{} ({}):\n\n", agreement.positions,
                             agreement_options.token_by_token ? ", evaluated token by token" : "",
                             have_text ? fmt::format("{} chunks of {} tokens of {}", agreement.chunks, ctx, text_path)
                                       : std::string("the prompt and A's greedy continuation; -f TEXT compares more"))
              << "| measure | value |\n| --- | --- |\n"
              << fmt::format("| top-1 agreement | {:.4f}% ({} / {}) |\n", 100.0 * agreement.top1_rate,
                             agreement.top1_agreements, agreement.positions)
              << fmt::format("| mean KL(A‖B) | {:.6g} nats |\n", agreement.mean_kl)
              << fmt::format("| max KL(A‖B) | {:.6g} nats (token {}) |\n", agreement.max_kl, agreement.max_kl_position)
              << fmt::format("| max abs logit difference | {:.6g} |\n", agreement.max_abs_logit_difference);
    if (n_predict > 0)
      std::cout << fmt::format("| greedy continuation ({} tokens of \"{}\") | {} |\n", n_predict, prompt,
                               divergence ? fmt::format("diverges at token {}", *divergence) : "identical");
    if (divergence) {
      std::cout << fmt::format("\nA: {}\nB: {}\n", a.greedy.text, b.greedy.text);
    }
  }

  if (!failures.empty()) {
    for (const std::string& f : failures) std::cerr << "tessera ab: FAILED: " << f << "\n";
    return kGateFailed;
  }
  if (fail_kl || fail_top1) std::cerr << "tessera ab: gates passed\n";
  return 0;
}

}  // namespace tessera::cli
