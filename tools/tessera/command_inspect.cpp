// `tessera inspect FILE`: what is in a model file and how much memory it
// needs at a given context length.
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "table.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/model_file.hpp"

namespace tessera::cli {
namespace {

double kv_bytes_per_element(const std::string& kv_type) {
  if (kv_type == "f32") return 4.0;
  if (kv_type == "f16") return 2.0;
  if (kv_type == "q8_0") return 34.0 / 32.0;
  throw Error(fmt::format("unknown --kv-type '{}'; expected f16, f32 or q8_0", kv_type));
}

std::string type_name(int32_t dtype) {
  const char* name = tessera_dtype_info(dtype).name;
  return name ? name : fmt::format("type {}", dtype);
}

}  // namespace

int command_inspect(const std::vector<std::string>& args) {
  po::options_description options("tessera inspect MODEL [options]");
  options.add_options()("help,h", "show this help")("json", "print JSON instead of tables")(
      "ctx", po::value<int64_t>(), "context length for the memory estimate (default: the model's)")(
      "kv-type", po::value<std::string>()->default_value("f16"), "KV cache type for the estimate: f16, f32, q8_0")(
      "format", po::value<std::string>()->default_value(""), "format plugin (default: detect)")(
      "metadata", "list every metadata key");
  add_plugin_options(options);
  po::options_description hidden;
  hidden.add_options()("file", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse_options("inspect", args, options, vm, &hidden, &positional)) return 2;
  if (vm.count("help") || !vm.count("file")) {
    std::cout << options;
    return vm.count("help") ? 0 : 2;
  }

  auto registry = load_registry(vm);
  const ModelFile model(vm["file"].as<std::string>(), *registry, vm["format"].as<std::string>());
  const std::string arch = model.get_string("general.architecture").value_or("unknown");
  auto hp = [&](const std::string& key) { return model.get_int(arch + "." + key); };

  uint64_t parameters = 0, weight_bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> per_type;  // type -> (tensors, bytes)
  for (const auto& t : model.tensors()) {
    parameters += t.element_count();
    weight_bytes += t.n_bytes;
    auto& entry = per_type[type_name(t.dtype)];
    entry.first++;
    entry.second += t.n_bytes;
  }

  // KV cache: K and V, per layer, per position, kv_heads * head_dim values.
  const int64_t layers = hp("block_count").value_or(0);
  const int64_t embedding = hp("embedding_length").value_or(0);
  const int64_t heads = hp("attention.head_count").value_or(1);
  const int64_t kv_heads = hp("attention.head_count_kv").value_or(heads);
  const int64_t head_dim = heads > 0 ? embedding / heads : 0;
  const int64_t ctx = vm.count("ctx") ? vm["ctx"].as<int64_t>() : hp("context_length").value_or(0);
  if (ctx <= 0) throw Error("--ctx must be a positive number of tokens");
  const std::string kv_type = vm["kv-type"].as<std::string>();
  const auto kv_bytes = static_cast<uint64_t>(2.0 * static_cast<double>(layers) * static_cast<double>(ctx) *
                                              static_cast<double>(kv_heads * head_dim) * kv_bytes_per_element(kv_type));

  if (vm.count("json")) {
    nlohmann::json out;
    out["file"] = model.path().string();
    out["format"] = model.format_name();
    out["architecture"] = arch;
    out["name"] = model.get_string("general.name").value_or("");
    out["parameters"] = parameters;
    out["hyperparameters"] = nlohmann::json::object();
    for (const char* key : {"context_length", "embedding_length", "block_count", "feed_forward_length",
                            "attention.head_count", "attention.head_count_kv", "rope.dimension_count"})
      if (auto v = hp(key)) out["hyperparameters"][key] = *v;
    for (const char* key : {"rope.freq_base", "attention.layer_norm_rms_epsilon", "rope.scaling.factor"})
      if (auto v = model.get_double(arch + "." + key)) out["hyperparameters"][key] = *v;
    if (const auto* tokens = model.find("tokenizer.ggml.tokens"))
      out["tokenizer"] = {{"model", model.get_string("tokenizer.ggml.model").value_or("")},
                          {"tokens", tokens->as_array().size()},
                          {"bos_token_id", model.get_int("tokenizer.ggml.bos_token_id").value_or(-1)},
                          {"eos_token_id", model.get_int("tokenizer.ggml.eos_token_id").value_or(-1)}};
    out["metadata"] = nlohmann::json::array();
    for (const auto& [key, value] : model.metadata())
      out["metadata"].push_back({{"key", key}, {"type", value_type_name(value.type)}, {"value", value.summary()}});
    out["tensors"] = nlohmann::json::array();
    for (const auto& t : model.tensors())
      out["tensors"].push_back({{"name", t.name}, {"shape", t.dims}, {"type", type_name(t.dtype)}, {"bytes", t.n_bytes}});
    out["bytes_per_type"] = nlohmann::json::object();
    for (const auto& [type, entry] : per_type) out["bytes_per_type"][type] = {{"tensors", entry.first}, {"bytes", entry.second}};
    out["memory"] = {{"context", ctx}, {"kv_type", kv_type}, {"weights_bytes", weight_bytes},
                     {"kv_cache_bytes", kv_bytes}, {"total_bytes", weight_bytes + kv_bytes}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  std::cout << fmt::format("file:          {}\nformat:        {}\narchitecture:  {}\nname:          {}\n",
                           model.path().string(), model.format_name(), arch,
                           model.get_string("general.name").value_or("-"));
  std::cout << fmt::format("parameters:    {} ({})\n", parameters, format_count(parameters));
  std::cout << fmt::format("shape:         {} layers, embedding {}, feed-forward {}, heads {} (kv {}), context {}\n",
                           layers, embedding, hp("feed_forward_length").value_or(0), heads, kv_heads,
                           hp("context_length").value_or(0));
  if (const auto* tokens = model.find("tokenizer.ggml.tokens"))
    std::cout << fmt::format("tokenizer:     {}, {} tokens\n", model.get_string("tokenizer.ggml.model").value_or("?"),
                             tokens->as_array().size());
  if (vm.count("metadata")) {
    std::cout << "\n";
    Table meta({"KEY", "TYPE", "VALUE"});
    for (const auto& [key, value] : model.metadata()) meta.add_row({key, value_type_name(value.type), value.summary()});
    meta.print(std::cout);
  }
  std::cout << "\n";
  Table tensors({"TENSOR", "SHAPE", "TYPE", "BYTES"});
  for (const auto& t : model.tensors()) tensors.add_row({t.name, t.shape_text(), type_name(t.dtype), std::to_string(t.n_bytes)});
  tensors.print(std::cout);
  std::cout << "\n";
  Table types({"TYPE", "TENSORS", "BYTES", "SHARE"});
  for (const auto& [type, entry] : per_type)
    types.add_row({type, std::to_string(entry.first), format_bytes(entry.second),
                   fmt::format("{:.1f}%", 100.0 * static_cast<double>(entry.second) / static_cast<double>(std::max<uint64_t>(1, weight_bytes)))});
  types.print(std::cout);
  std::cout << fmt::format("\nmemory at context {} (KV cache {}): weights {} + KV cache {} = {}\n", ctx, kv_type,
                           format_bytes(weight_bytes), format_bytes(kv_bytes), format_bytes(weight_bytes + kv_bytes));
  return 0;
}

}  // namespace tessera::cli
