#include "hf_config.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tessera/cpp/plugin.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::gptq {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sdk::Error(TESSERA_ERR_IO, path.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  try {
    json j = json::parse(text.str());
    if (!j.is_object()) throw sdk::Error(TESSERA_ERR_FORMAT, path.string() + ": expected a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw sdk::Error(TESSERA_ERR_FORMAT, path.string() + ": not valid JSON: " + e.what());
  }
}

// Typed field access with messages that name the file and the field.
class Fields {
 public:
  Fields(const json& object, std::string file, std::string prefix = "")
      : j_(object), file_(std::move(file)), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what,
                         tessera_status code = TESSERA_ERR_FORMAT) const {
    throw sdk::Error(code, file_ + ": field '" + prefix_ + field + "' " + what);
  }
  bool has(const std::string& field) const { return j_.contains(field) && !j_.at(field).is_null(); }
  const json& at(const std::string& field) const { return j_.at(field); }

  int64_t integer(const std::string& field, int64_t min_value) const {
    if (!has(field)) fail(field, "is missing; expected an integer >= " + std::to_string(min_value));
    return integer_value(field, min_value);
  }
  int64_t integer_or(const std::string& field, int64_t fallback, int64_t min_value) const {
    return has(field) ? integer_value(field, min_value) : fallback;
  }
  std::optional<int64_t> optional_integer(const std::string& field, int64_t min_value) const {
    if (!has(field)) return std::nullopt;
    return integer_value(field, min_value);
  }
  double positive_number_or(const std::string& field, double fallback) const {
    if (!has(field)) return fallback;
    const json& v = at(field);
    if (!v.is_number()) fail(field, "is " + v.dump() + "; expected a number");
    const double d = v.get<double>();
    if (!(d > 0)) fail(field, "is " + v.dump() + "; expected a positive number");
    return d;
  }
  bool boolean_or(const std::string& field, bool fallback) const {
    if (!has(field)) return fallback;
    if (!at(field).is_boolean()) fail(field, "is " + at(field).dump() + "; expected true or false");
    return at(field).get<bool>();
  }
  std::string string_or(const std::string& field, const std::string& fallback) const {
    if (!has(field)) return fallback;
    if (!at(field).is_string()) fail(field, "is " + at(field).dump() + "; expected a string");
    return at(field).get<std::string>();
  }

 private:
  int64_t integer_value(const std::string& field, int64_t min_value) const {
    const json& v = at(field);
    if (!v.is_number_integer()) fail(field, "is " + v.dump() + "; expected an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      fail(field, "is " + v.dump() + "; expected a smaller integer");
    const int64_t n = v.get<int64_t>();
    if (n < min_value) fail(field, "is " + std::to_string(n) + "; expected at least " + std::to_string(min_value));
    return n;
  }

  const json& j_;
  std::string file_;
  std::string prefix_;
};

std::string architecture_of(const Fields& f) {
  if (f.has("architectures")) {
    const json& list = f.at("architectures");
    if (!list.is_array() || list.size() != 1 || !list[0].is_string())
      f.fail("architectures", "is " + list.dump() + "; expected one name, e.g. [\"LlamaForCausalLM\"]");
    const std::string a = list[0].get<std::string>();
    if (a != "LlamaForCausalLM" && a != "MistralForCausalLM")
      f.fail("architectures", "is [\"" + a + "\"]; tessera reads LlamaForCausalLM and MistralForCausalLM",
             TESSERA_ERR_UNSUPPORTED);
    return a;
  }
  const std::string type = f.string_or("model_type", "");
  if (type == "llama") return "LlamaForCausalLM";
  if (type == "mistral") return "MistralForCausalLM";
  f.fail("architectures", "is missing (and model_type is '" + type + "'); expected [\"LlamaForCausalLM\"]");
}

std::optional<double> linear_rope_factor(const Fields& f) {
  if (!f.has("rope_scaling")) return std::nullopt;
  const json& rs = f.at("rope_scaling");
  if (!rs.is_object()) f.fail("rope_scaling", "is " + rs.dump() + "; expected null or an object");
  std::string type;
  if (rs.contains("type") && rs["type"].is_string()) type = rs["type"].get<std::string>();
  else if (rs.contains("rope_type") && rs["rope_type"].is_string()) type = rs["rope_type"].get<std::string>();
  if (type != "linear")
    f.fail("rope_scaling", "has type '" + type + "'; tessera supports only linear RoPE scaling (or none)",
           TESSERA_ERR_UNSUPPORTED);
  if (!rs.contains("factor") || !rs["factor"].is_number() || !(rs["factor"].get<double>() > 0))
    f.fail("rope_scaling.factor", "is missing or not a positive number");
  return rs["factor"].get<double>();
}

// An integer, or a list of them (Llama 3 lists several end tokens; the
// first is the one GGUF's single id holds).
std::optional<int64_t> token_id(const Fields& f, const std::string& field) {
  if (!f.has(field)) return std::nullopt;
  const json& v = f.at(field);
  if (v.is_array()) {
    if (v.empty() || !v[0].is_number_integer() || v[0].get<int64_t>() < 0)
      f.fail(field, "is " + v.dump() + "; expected a token id or a non-empty list of them");
    return v[0].get<int64_t>();
  }
  return f.optional_integer(field, 0);
}

QuantConfig parse_quant(const json& q, const std::string& source, const std::string& prefix) {
  const Fields f(q, source, prefix);
  QuantConfig c;
  c.source = source;
  const std::string method = f.string_or("quant_method", "gptq");
  if (method != "gptq")
    f.fail("quant_method", "is '" + method + "'; tessera reads GPTQ checkpoints (\"gptq\")", TESSERA_ERR_UNSUPPORTED);
  const int64_t bits = f.integer("bits", 1);
  if (bits != 4 && bits != 8 && bits != 3)
    f.fail("bits", "is " + std::to_string(bits) + "; expected 4, 8 or 3", TESSERA_ERR_UNSUPPORTED);
  c.bits = static_cast<uint32_t>(bits);
  c.group_size = f.integer_or("group_size", 128, -1);
  // A group must be whole packing units of the layout (kGptqRowUnit rows), so
  // no qweight word mixes two groups; in_features is such a multiple too, and
  // need not be one of group_size (the last group may be shorter).
  constexpr auto kUnit = static_cast<int64_t>(quant::kGptqRowUnit);
  if (c.group_size == 0 || (c.group_size > 0 && c.group_size % kUnit != 0))
    f.fail("group_size",
           "is " + std::to_string(c.group_size) + "; expected -1 (one group) or a positive multiple of " +
               std::to_string(kUnit) + " (tessera's GPTQ layout packs input rows in units of " + std::to_string(kUnit) +
               ")",
           c.group_size == 0 ? TESSERA_ERR_FORMAT : TESSERA_ERR_UNSUPPORTED);
  c.desc_act = f.boolean_or("desc_act", false);
  c.sym = f.boolean_or("sym", true);
  if (f.boolean_or("is_marlin_format", false))
    f.fail("is_marlin_format", "is true; Marlin-packed checkpoints are not supported", TESSERA_ERR_UNSUPPORTED);
  c.checkpoint_format = f.string_or("checkpoint_format", "gptq");
  if (c.checkpoint_format == "gptq") c.zeros_minus_one = true;
  else if (c.checkpoint_format == "gptq_v2") c.zeros_minus_one = false;
  else
    f.fail("checkpoint_format", "is '" + c.checkpoint_format + "'; expected \"gptq\" or \"gptq_v2\"",
           TESSERA_ERR_UNSUPPORTED);
  return c;
}

// transformers reads config.json's quantization_config, AutoGPTQ reads
// quantize_config.json: no rule makes one win, so two files that disagree on
// a setting (each read alone, defaults included) are refused.
void check_agree(const QuantConfig& a, const QuantConfig& b) {
  auto flag = [](bool v) { return std::string(v ? "true" : "false"); };
  const std::pair<const char*, std::pair<std::string, std::string>> fields[] = {
      {"bits", {std::to_string(a.bits), std::to_string(b.bits)}},
      {"group_size", {std::to_string(a.group_size), std::to_string(b.group_size)}},
      {"desc_act", {flag(a.desc_act), flag(b.desc_act)}},
      {"sym", {flag(a.sym), flag(b.sym)}},
      {"checkpoint_format", {'"' + a.checkpoint_format + '"', '"' + b.checkpoint_format + '"'}}};
  for (const auto& [field, values] : fields)
    if (values.first != values.second)
      throw sdk::Error(TESSERA_ERR_FORMAT,
                       a.source + ": field '" + field + "' is " + values.first + ", but " + b.source +
                           ": field 'quantization_config." + field + "' is " + values.second +
                           " (defaults count when a field is absent); the two files must agree, tessera cannot tell "
                           "which one the weights follow");
}

}  // namespace

HfConfig read_hf_config(const fs::path& config_json) {
  const json j = read_json(config_json);
  const Fields f(j, config_json.string());
  HfConfig c;
  c.architecture = architecture_of(f);
  c.hidden_size = f.integer("hidden_size", 1);
  c.num_hidden_layers = f.integer("num_hidden_layers", 1);
  c.num_attention_heads = f.integer("num_attention_heads", 1);
  c.num_key_value_heads = f.integer_or("num_key_value_heads", c.num_attention_heads, 1);
  c.intermediate_size = f.integer("intermediate_size", 1);
  c.vocab_size = f.integer("vocab_size", 1);
  c.max_position_embeddings = f.integer_or("max_position_embeddings", 2048, 1);
  c.sliding_window = f.optional_integer("sliding_window", 1);
  c.rms_norm_eps = f.positive_number_or("rms_norm_eps", 1e-6);
  c.rope_theta = f.positive_number_or("rope_theta", 10000.0);
  c.rope_linear_factor = linear_rope_factor(f);
  c.bos_token_id = token_id(f, "bos_token_id");
  c.eos_token_id = token_id(f, "eos_token_id");
  c.tie_word_embeddings = f.boolean_or("tie_word_embeddings", false);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.fail("num_key_value_heads", "is " + std::to_string(c.num_key_value_heads) +
                                      "; expected a divisor of num_attention_heads " +
                                      std::to_string(c.num_attention_heads));
  if (c.hidden_size % c.num_attention_heads != 0)
    f.fail("num_attention_heads", "is " + std::to_string(c.num_attention_heads) + "; expected a divisor of hidden_size " +
                                      std::to_string(c.hidden_size));
  const int64_t natural = c.hidden_size / c.num_attention_heads;
  c.head_dim = f.integer_or("head_dim", natural, 1);
  // The llama graph derives the head size from hidden_size / heads.
  if (c.head_dim != natural)
    f.fail("head_dim", "is " + std::to_string(c.head_dim) + "; tessera needs hidden_size / num_attention_heads = " +
                           std::to_string(natural),
           TESSERA_ERR_UNSUPPORTED);
  if (c.head_dim % 2 != 0) f.fail("head_dim", "is " + std::to_string(c.head_dim) + "; expected an even number (RoPE pairs)");
  return c;
}

std::optional<QuantConfig> read_quant_config(const fs::path& dir) {
  const fs::path config = dir / "config.json";
  const json j = read_json(config);
  std::optional<QuantConfig> embedded;
  if (j.contains("quantization_config") && !j["quantization_config"].is_null()) {
    if (!j["quantization_config"].is_object())
      throw sdk::Error(TESSERA_ERR_FORMAT, config.string() + ": field 'quantization_config' is not an object");
    embedded = parse_quant(j["quantization_config"], config.string(), "quantization_config.");
  }
  const fs::path standalone = dir / "quantize_config.json";
  if (!fs::exists(standalone)) return embedded;
  QuantConfig q = parse_quant(read_json(standalone), standalone.string(), "");
  if (embedded) check_agree(q, *embedded);
  return q;
}

}  // namespace tessera::gptq
