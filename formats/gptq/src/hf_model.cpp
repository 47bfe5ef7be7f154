#include "hf_model.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "gptq_layout.hpp"
#include "tessera/cpp/mapped_file.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/quant/half.hpp"

namespace tessera::gptq {
namespace fs = std::filesystem;
namespace {

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int32_t float_dtype(StDtype d) {
  switch (d) {
    case StDtype::F32: return TESSERA_DTYPE_F32;
    case StDtype::F16: return TESSERA_DTYPE_F16;
    case StDtype::BF16: return TESSERA_DTYPE_BF16;
    default: return TESSERA_DTYPE_INVALID;
  }
}

int32_t gptq_dtype(uint32_t bits) {
  return bits == 4 ? TESSERA_DTYPE_GPTQ_4BIT : bits == 8 ? TESSERA_DTYPE_GPTQ_8BIT : TESSERA_DTYPE_GPTQ_3BIT;
}

float load_float(const uint8_t* p, StDtype d) {
  if (d == StDtype::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return d == StDtype::F16 ? quant::f16_to_f32(h) : quant::bf16_to_f32(h);
}

}  // namespace

std::vector<uint32_t> rope_pair_order(uint64_t rows, uint64_t heads) {
  const uint64_t d = rows / heads, half = d / 2;
  std::vector<uint32_t> order(rows);
  for (uint64_t h = 0; h < heads; ++h)
    for (uint64_t i = 0; i < half; ++i)
      for (uint64_t j = 0; j < 2; ++j) order[h * d + 2 * i + j] = static_cast<uint32_t>(h * d + j * half + i);
  return order;
}

bool looks_like_hf_directory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || !fs::is_regular_file(dir / "config.json", ec)) return false;
  if (fs::exists(dir / "model.safetensors", ec) || fs::exists(dir / kIndexFileName, ec)) return true;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors") return true;
  return false;
}

// Walks the llama layer structure, pulling each tensor out of the
// safetensors set, checking it against config.json and converting it.
class HfModel::Builder {
 public:
  explicit Builder(HfModel& m) : m_(m), c_(m.config_) {}

  void build() {
    const uint64_t hidden = u(c_.hidden_size), ff = u(c_.intermediate_size), vocab = u(c_.vocab_size);
    const uint64_t q_out = u(c_.num_attention_heads * c_.head_dim), kv_out = u(c_.num_key_value_heads * c_.head_dim);
    passthrough_float("model.embed_tokens.weight", "token_embd.weight", {vocab, hidden});
    for (int64_t l = 0; l < c_.num_hidden_layers; ++l) {
      const std::string hf = "model.layers." + std::to_string(l) + ".";
      const std::string tn = "blk." + std::to_string(l) + ".";
      norm(hf + "input_layernorm.weight", tn + "attn_norm.weight", hidden);
      linear(hf + "self_attn.q_proj", tn + "attn_q.weight", hidden, q_out, u(c_.num_attention_heads));
      linear(hf + "self_attn.k_proj", tn + "attn_k.weight", hidden, kv_out, u(c_.num_key_value_heads));
      linear(hf + "self_attn.v_proj", tn + "attn_v.weight", hidden, kv_out, 0);
      linear(hf + "self_attn.o_proj", tn + "attn_output.weight", q_out, hidden, 0);
      norm(hf + "post_attention_layernorm.weight", tn + "ffn_norm.weight", hidden);
      linear(hf + "mlp.gate_proj", tn + "ffn_gate.weight", hidden, ff, 0);
      linear(hf + "mlp.up_proj", tn + "ffn_up.weight", hidden, ff, 0);
      linear(hf + "mlp.down_proj", tn + "ffn_down.weight", ff, hidden, 0);
    }
    norm("model.norm.weight", "output_norm.weight", hidden);
    if (has("lm_head.weight") || has("lm_head.qweight") || !c_.tie_word_embeddings)
      linear("lm_head", "output.weight", hidden, vocab, 0);
    check_all_used();
  }

 private:
  static uint64_t u(int64_t v) { return static_cast<uint64_t>(v); }

  bool has(const std::string& name) const { return m_.files_->find(name) != nullptr; }

  const SafetensorsSet::Entry& need(const std::string& name) {
    const SafetensorsSet::Entry* e = m_.files_->find(name);
    if (e == nullptr)
      throw sdk::Error(TESSERA_ERR_FORMAT, shard_list() + ": tensor '" + name + "' is missing");
    used_.insert(name);
    return *e;
  }
  std::string shard_list() const {
    std::string s = m_.files_->shard_path(0);
    if (m_.files_->shard_count() > 1) s += " (and " + std::to_string(m_.files_->shard_count() - 1) + " more shards)";
    return s;
  }
  std::string file_of(const SafetensorsSet::Entry& e) const { return m_.files_->shard_path(e.shard); }

  [[noreturn]] void fail(const SafetensorsSet::Entry& e, const std::string& field, const std::string& what) const {
    throw sdk::Error(TESSERA_ERR_FORMAT, file_of(e) + ": tensor '" + e.tensor->name + "': " + field + " " + what);
  }
  void expect_shape(const SafetensorsSet::Entry& e, const std::vector<uint64_t>& shape, const std::string& why) const {
    if (e.tensor->shape != shape)
      fail(e, "shape", "is " + shape_text(e.tensor->shape) + "; expected " + shape_text(shape) + " (" + why + ")");
  }
  void expect_dtype(const SafetensorsSet::Entry& e, StDtype dtype) const {
    if (e.tensor->dtype != dtype)
      fail(e, "dtype", std::string("is ") + st_dtype_name(e.tensor->dtype) + "; expected " + st_dtype_name(dtype));
  }
  int32_t expect_float(const SafetensorsSet::Entry& e) const {
    const int32_t d = float_dtype(e.tensor->dtype);
    if (d == TESSERA_DTYPE_INVALID)
      fail(e, "dtype", std::string("is ") + st_dtype_name(e.tensor->dtype) + "; expected F16, BF16 or F32");
    return d;
  }

  void add(Tensor t) {
    m_.by_name_.emplace(t.name, m_.tensors_.size());
    m_.tensors_.push_back(std::move(t));
  }
  Tensor mapped(const SafetensorsSet::Entry& e, const std::string& name, int32_t dtype, std::vector<uint64_t> dims) {
    return Tensor{name, dtype, std::move(dims), e.tensor->data, e.tensor->n_bytes(), m_.files_->file_offset(e), e.shard, {}, {}};
  }
  Tensor owned(OwnedBytes bytes, const std::string& name, int32_t dtype, std::vector<uint64_t> dims) {
    OwnedBytes& b = m_.owned_.emplace_back(std::move(bytes));
    return Tensor{name, dtype, std::move(dims), b.data(), b.size(), 0, 0, {}, {}};
  }
  static Tensor built(const std::string& name, int32_t dtype, std::vector<uint64_t> dims, uint64_t n_bytes,
                      std::function<void(uint8_t*)> build, std::vector<std::span<const uint8_t>> sources) {
    return Tensor{name, dtype, std::move(dims), nullptr, n_bytes, 0, 0, std::move(build), std::move(sources)};
  }
  static std::span<const uint8_t> bytes_of(const SafetensorsSet::Entry& e) {
    return {e.tensor->data, static_cast<size_t>(e.tensor->n_bytes())};
  }

  // [rows, cols] in HF order -> dims {cols, rows}, mapped in place.
  void passthrough_float(const std::string& hf, const std::string& name, std::vector<uint64_t> shape) {
    const auto& e = need(hf);
    const int32_t dtype = expect_float(e);
    expect_shape(e, shape, "[vocab_size, hidden_size] from config.json");
    add(mapped(e, name, dtype, {shape[1], shape[0]}));
  }

  // RMSNorm weights become F32: the graph multiplies in F32.
  void norm(const std::string& hf, const std::string& name, uint64_t n) {
    const auto& e = need(hf);
    expect_float(e);
    expect_shape(e, {n}, "hidden_size from config.json");
    OwnedBytes out(4 * n);
    const uint64_t esize = st_dtype_size(e.tensor->dtype);
    for (uint64_t i = 0; i < n; ++i) {
      const float f = load_float(e.tensor->data + i * esize, e.tensor->dtype);
      std::memcpy(out.data() + 4 * i, &f, 4);
    }
    add(owned(std::move(out), name, TESSERA_DTYPE_F32, {n}));
  }

  // A projection with `in` inputs and `out` outputs; `rope_heads` > 0 marks
  // q/k, whose output rows are reordered to adjacent RoPE pairs.
  void linear(const std::string& hf, const std::string& name, uint64_t in, uint64_t out, uint64_t rope_heads) {
    const std::vector<uint32_t> order = rope_heads > 0 ? rope_pair_order(out, rope_heads) : std::vector<uint32_t>{};
    if (has(hf + ".qweight")) return gptq_linear(hf, name, in, out, order);
    const auto& e = need(hf + ".weight");
    const int32_t dtype = expect_float(e);
    expect_shape(e, {out, in}, "[out_features, in_features] from config.json");
    if (order.empty()) return add(mapped(e, name, dtype, {in, out}));
    const uint64_t row_bytes = in * st_dtype_size(e.tensor->dtype);
    const uint8_t* rows = e.tensor->data;
    add(built(name, dtype, {in, out}, out * row_bytes, [rows, row_bytes, order](uint8_t* dst) {
      for (uint64_t r = 0; r < order.size(); ++r) std::memcpy(dst + r * row_bytes, rows + order[r] * row_bytes, row_bytes);
    }, {bytes_of(e)}));
  }

  void gptq_linear(const std::string& hf, const std::string& name, uint64_t in, uint64_t out,
                   const std::vector<uint32_t>& order) {
    const auto& qweight = need(hf + ".qweight");
    if (!m_.quant_)
      fail(qweight, "", "is GPTQ-quantized, but the directory has no quantize_config.json and config.json has no "
                        "quantization_config");
    const QuantConfig& q = *m_.quant_;
    if (in % 32 != 0 || out % (q.bits == 3 ? 32 : 8) != 0)
      throw sdk::Error(TESSERA_ERR_UNSUPPORTED,
                       file_of(qweight) + ": tensor '" + hf + "' is " + std::to_string(out) + " x " +
                           std::to_string(in) + "; the GPTQ layout needs in_features a multiple of 32 and out_features "
                           "a multiple of " + (q.bits == 3 ? "32" : "8"));
    const uint64_t group_size = q.group_size < 0 ? in : static_cast<uint64_t>(q.group_size);
    if (group_size > UINT32_MAX) fail(qweight, "group_size", "does not fit 32 bits");
    const uint32_t groups = group_count(in, static_cast<uint32_t>(group_size));
    const std::string why = "bits " + std::to_string(q.bits) + ", group_size " + std::to_string(q.group_size) + " from " +
                            q.source + ", in_features " + std::to_string(in) + ", out_features " + std::to_string(out);
    expect_dtype(qweight, StDtype::I32);
    expect_shape(qweight, {in * q.bits / 32, out}, "[in_features * bits / 32, out_features]; " + why);
    const auto& qzeros = need(hf + ".qzeros");
    expect_dtype(qzeros, StDtype::I32);
    expect_shape(qzeros, {groups, out * q.bits / 32}, "[groups, out_features * bits / 32]; " + why);
    const auto& scales = need(hf + ".scales");
    expect_dtype(scales, StDtype::F16);
    expect_shape(scales, {groups, out}, "[groups, out_features]; " + why);
    const SafetensorsSet::Entry* g_idx = nullptr;
    if (has(hf + ".g_idx")) {
      g_idx = &need(hf + ".g_idx");
      expect_dtype(*g_idx, StDtype::I32);
      expect_shape(*g_idx, {in}, "[in_features]; " + why);
    } else if (q.desc_act) {
      throw sdk::Error(TESSERA_ERR_FORMAT, file_of(qweight) + ": tensor '" + hf + ".g_idx' is missing; it is required "
                                               "because desc_act is true in " + q.source);
    }
    GptqSource src;
    src.name = hf;
    src.file = file_of(qweight);
    src.bits = q.bits;
    src.in_features = in;
    src.out_features = out;
    src.group_size = static_cast<uint32_t>(group_size);
    src.zeros_minus_one = q.zeros_minus_one;
    src.sym = q.sym;
    src.qweight = qweight.tensor->data;
    src.qzeros = qzeros.tensor->data;
    src.scales = scales.tensor->data;
    src.g_idx = g_idx != nullptr ? g_idx->tensor->data : nullptr;
    auto plan = std::make_shared<const GptqPlan>(plan_gptq_tensor(src, order));
    std::vector<std::span<const uint8_t>> sources = {bytes_of(qweight), bytes_of(qzeros), bytes_of(scales)};
    if (g_idx != nullptr) sources.push_back(bytes_of(*g_idx));
    for (const auto& s : sources) sdk::release_resident(s.data(), s.size());  // the plan's checks read them
    add(built(name, gptq_dtype(q.bits), {in, out}, plan->header.total_bytes,
              [plan](uint8_t* dst) { write_gptq_tensor(*plan, dst); }, std::move(sources)));
  }

  // Older GPTQ tools store a bias buffer of zeros for every projection.
  bool is_zero_bias(const SafetensorsSet::Entry& e) const {
    if (!e.tensor->name.ends_with(".bias") || float_dtype(e.tensor->dtype) == TESSERA_DTYPE_INVALID) return false;
    const uint64_t esize = st_dtype_size(e.tensor->dtype);
    for (uint64_t i = 0; i < e.tensor->element_count(); ++i)
      if (load_float(e.tensor->data + i * esize, e.tensor->dtype) != 0.0f) return false;
    return true;
  }

  // Every tensor in the checkpoint must have a place in the graph: a bias or
  // an unknown layer silently dropped would compute the wrong model.
  void check_all_used() const {
    for (std::string_view n : m_.files_->names()) {
      const std::string name(n);
      if (used_.count(name) || name.ends_with(".rotary_emb.inv_freq")) continue;
      const auto& e = *m_.files_->find(name);
      if (is_zero_bias(e)) continue;
      throw sdk::Error(TESSERA_ERR_UNSUPPORTED, file_of(e) + ": tensor '" + name +
                                                    "' has no place in the llama graph (non-zero biases and extra "
                                                    "layers are not supported)");
    }
  }

  HfModel& m_;
  const HfConfig& c_;
  std::set<std::string> used_;
};

std::unique_ptr<HfModel> HfModel::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw sdk::Error(TESSERA_ERR_IO, dir.string() + ": expected a Hugging Face model directory (config.json + "
                                                    "*.safetensors)");
  auto m = std::unique_ptr<HfModel>(new HfModel());
  try {
    m->config_ = read_hf_config(dir / "config.json");
    m->quant_ = read_quant_config(dir);
    m->files_ = SafetensorsSet::open_directory(dir);
  } catch (const fs::filesystem_error& e) {
    // A file the directory names that the OS cannot look at (a name too
    // long, no permission): an IO error like a missing one, not a crash.
    throw sdk::Error(TESSERA_ERR_IO, dir.string() + ": " + e.what());
  }
  Builder(*m).build();

  const HfConfig& c = m->config_;
  MetadataTable& t = m->metadata_;
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(std::min<int64_t>(v, UINT32_MAX)); };
  t.add_string("general.architecture", "llama");
  fs::path full = fs::absolute(dir).lexically_normal();
  if (full.filename().empty()) full = full.parent_path();  // "dir/" has an empty last component
  t.add_string("general.name", full.filename().string());
  t.add_string("general.source.architecture", c.architecture);
  // Mistral's sliding window is not modelled: within it full attention is
  // exactly Mistral's, so the published context stops at the window.
  int64_t context = c.max_position_embeddings;
  if (c.sliding_window && *c.sliding_window < context) {
    context = *c.sliding_window;
    m->warnings_.push_back((dir / "config.json").string() + ": sliding_window is " + std::to_string(context) +
                           ", less than max_position_embeddings " + std::to_string(c.max_position_embeddings) +
                           "; tessera has no sliding-window attention, so llama.context_length is " +
                           std::to_string(context) + " (a longer context would attend past the window, unlike " +
                           c.architecture + ")");
  }
  t.add_u32("llama.context_length", u32(context));
  t.add_u32("llama.embedding_length", u32(c.hidden_size));
  t.add_u32("llama.block_count", u32(c.num_hidden_layers));
  t.add_u32("llama.feed_forward_length", u32(c.intermediate_size));
  t.add_u32("llama.attention.head_count", u32(c.num_attention_heads));
  t.add_u32("llama.attention.head_count_kv", u32(c.num_key_value_heads));
  t.add_u32("llama.rope.dimension_count", u32(c.head_dim));
  t.add_f32("llama.rope.freq_base", static_cast<float>(c.rope_theta));
  t.add_f32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  t.add_u32("llama.vocab_size", u32(c.vocab_size));
  if (c.rope_linear_factor) {
    t.add_string("llama.rope.scaling.type", "linear");
    t.add_f32("llama.rope.scaling.factor", static_cast<float>(*c.rope_linear_factor));
  }
  if (c.bos_token_id) t.add_u32("tokenizer.ggml.bos_token_id", u32(*c.bos_token_id));
  if (c.eos_token_id) t.add_u32("tokenizer.ggml.eos_token_id", u32(*c.eos_token_id));
  if (fs::is_regular_file(dir / "tokenizer.model", ec))
    t.add_string(kTokenizerFileKey, fs::absolute(dir / "tokenizer.model").lexically_normal().string());
  if (m->quant_) {
    const QuantConfig& q = *m->quant_;
    t.add_u32("gptq.bits", q.bits);
    t.add_i32("gptq.group_size", static_cast<int32_t>(std::clamp<int64_t>(q.group_size, -1, INT32_MAX)));
    t.add_bool("gptq.desc_act", q.desc_act);
    t.add_bool("gptq.sym", q.sym);
    t.add_string("gptq.checkpoint_format", q.checkpoint_format);
  }
  return m;
}

const HfModel::Tensor& HfModel::tensor(uint64_t index) const {
  if (index >= tensors_.size())
    throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, "tensor index " + std::to_string(index) + " is outside the " +
                                                   std::to_string(tensors_.size()) + " tensors");
  return tensors_[index];
}

void HfModel::read(uint64_t index, uint64_t offset, void* dst, uint64_t size) const {
  const Tensor& t = tensor(index);
  if (offset > t.n_bytes || size > t.n_bytes - offset)
    throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, "bytes [" + std::to_string(offset) + ", " + std::to_string(offset) +
                                                   " + " + std::to_string(size) + ") are outside tensor '" + t.name +
                                                   "' of " + std::to_string(t.n_bytes) + " bytes");
  if (size == 0) return;
  auto* out = static_cast<uint8_t*>(dst);
  if (t.data != nullptr) {
    std::memcpy(out, t.data + offset, static_cast<size_t>(size));
  } else {
    for (const auto& s : t.sources) sdk::advise_will_need(s.data(), s.size());
    if (offset == 0 && size == t.n_bytes) {
      t.build(out);
    } else {
      OwnedBytes whole(t.n_bytes);
      t.build(whole.data());
      std::memcpy(out, whole.data() + offset, static_cast<size_t>(size));
    }
    for (const auto& s : t.sources) sdk::release_resident(s.data(), s.size());
  }
}

OwnedBytes HfModel::read_all(uint64_t index) const {
  OwnedBytes bytes(tensor(index).n_bytes);
  read(index, 0, bytes.data(), bytes.size());
  return bytes;
}

std::optional<uint64_t> HfModel::find_tensor(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tessera::gptq
