// `tessera quantize IN OUT --type T` and `tessera synth --shape S --type T -o OUT`
// (or `--format gptq`: a Hugging Face GPTQ directory).
#include <iostream>

#include <fmt/format.h>

#include "cli_common.hpp"
#include "commands.hpp"
#include "table.hpp"
#include "tessera/core/gptq_synth.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/model_writer.hpp"

namespace tessera::cli {
namespace {

void print_summary(const std::string& output, const QuantizeStats& stats, int32_t dtype) {
  std::cout << fmt::format("wrote {}: {} tensors as {}, {} with rows not divisible by its block (Q8_0/F16), {} kept F32; "
                           "{}{}\n",
                           output, stats.quantized, tessera_dtype_info(dtype).name, stats.fell_back, stats.kept,
                           stats.bytes_in ? format_bytes(stats.bytes_in) + " -> " : "", format_bytes(stats.bytes_out));
}

TensorProgress progress_for(Progress& progress) {
  return [&progress](std::size_t done, std::size_t, const std::string& name, int32_t dtype) {
    progress.update(done, fmt::format("{} -> {}", name, tessera_dtype_info(dtype).name));
  };
}

}  // namespace

int command_quantize(const std::vector<std::string>& args) {
  po::options_description options("tessera quantize INPUT.gguf OUTPUT.gguf --type TYPE [options]");
  options.add_options()("help,h", "show this help")(
      "type", po::value<std::string>(),
      "target type: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K IQ4_NL IQ4_XS");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("files", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("files", 2);
  po::variables_map vm;
  if (!parse_options("quantize", args, options, vm, &hidden, &positional)) return 2;
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (!vm.count("files") || vm["files"].as<std::vector<std::string>>().size() != 2 || !vm.count("type")) {
    std::cerr << "tessera quantize: needs INPUT, OUTPUT and --type\n\n" << options;
    return 2;
  }
  const auto files = vm["files"].as<std::vector<std::string>>();
  const int32_t dtype = parse_quant_type(vm["type"].as<std::string>());
  auto registry = load_registry(vm);
  const ModelFile input(files[0], *registry);
  Progress progress("quantize", input.tensors().size());
  const QuantizeStats stats = quantize_model(input, files[1], dtype, progress_for(progress));
  progress.finish();
  print_summary(files[1], stats, dtype);
  return 0;
}

int command_synth(const std::vector<std::string>& args) {
  po::options_description options("tessera synth --shape SHAPE --type TYPE -o OUTPUT.gguf [options]");
  options.add_options()("help,h", "show this help")("shape", po::value<std::string>(), "model shape (see --list)")(
      "type", po::value<std::string>(), "weight type, as for quantize")("output,o", po::value<std::string>(),
                                                                         "file to write")(
      "seed", po::value<uint64_t>()->default_value(42), "random seed for the weights")("list", "list the known shapes")(
      "format", po::value<std::string>()->default_value("gguf"),
      "gguf (a file, --type) or gptq (a Hugging Face GPTQ directory, --bits)")(
      "bits", po::value<uint32_t>()->default_value(4), "gptq: 4, 8 or 3")(
      "group-size", po::value<int64_t>()->default_value(128), "gptq: rows per group, a multiple of 32, or -1 for one group")(
      "act-order", "gptq: desc_act checkpoint (g_idx a random permutation-derived map)")(
      "tokenizer", po::value<std::string>(), "gptq: tokenizer.model to copy (default: a placeholder vocabulary)");
  po::variables_map vm;
  if (!parse_options("synth", args, options, vm)) return 2;
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (vm.count("list")) {
    Table table({"SHAPE", "PARAMETERS", "LAYERS", "EMBEDDING", "HEADS", "KV HEADS", "FFN", "VOCAB", "CONTEXT"});
    for (const auto& s : known_model_shapes())
      table.add_row({s.name, format_count(static_cast<uint64_t>(s.parameter_count())), std::to_string(s.layers),
                     std::to_string(s.embedding), std::to_string(s.heads), std::to_string(s.kv_heads),
                     std::to_string(s.feed_forward), std::to_string(s.vocab_size), std::to_string(s.context)});
    table.print(std::cout);
    return 0;
  }
  if (vm["format"].as<std::string>() == "gptq") {
    if (!vm.count("shape") || !vm.count("output")) {
      std::cerr << "tessera synth --format gptq: needs --shape and -o\n\n" << options;
      return 2;
    }
    const ModelShape& shape = find_model_shape(vm["shape"].as<std::string>());
    GptqSynthOptions gptq;
    gptq.bits = vm["bits"].as<uint32_t>();
    gptq.group_size = vm["group-size"].as<int64_t>();
    gptq.act_order = vm.count("act-order") > 0;
    gptq.seed = vm["seed"].as<uint64_t>();
    if (vm.count("tokenizer")) gptq.tokenizer = vm["tokenizer"].as<std::string>();
    const std::string output = vm["output"].as<std::string>();
    Progress progress("synth " + shape.name, static_cast<std::size_t>(3 + 9 * shape.layers));
    const GptqSynthStats stats = synthesize_gptq_model(shape, gptq, output, progress_for(progress));
    progress.finish();
    std::cout << fmt::format("wrote {}: {} GPTQ {}-bit projections (group {}{}), {} F16 tensors; {}\n", output,
                             stats.quantized, gptq.bits, gptq.group_size, gptq.act_order ? ", act-order" : "",
                             stats.kept, format_bytes(stats.bytes));
    return 0;
  }
  if (vm["format"].as<std::string>() != "gguf") {
    std::cerr << "tessera synth: --format is '" << vm["format"].as<std::string>() << "'; expected gguf or gptq\n";
    return 2;
  }
  if (!vm.count("shape") || !vm.count("type") || !vm.count("output")) {
    std::cerr << "tessera synth: needs --shape, --type and -o\n\n" << options;
    return 2;
  }
  const ModelShape& shape = find_model_shape(vm["shape"].as<std::string>());
  const int32_t dtype = parse_quant_type(vm["type"].as<std::string>());
  const std::string output = vm["output"].as<std::string>();
  Progress progress("synth " + shape.name, static_cast<std::size_t>(3 + 9 * shape.layers));
  const QuantizeStats stats = synthesize_model(shape, dtype, output, vm["seed"].as<uint64_t>(), progress_for(progress));
  progress.finish();
  print_summary(output, stats, dtype);
  return 0;
}

}  // namespace tessera::cli
