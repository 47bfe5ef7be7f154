#include "tessera/core/llama_runtime.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/log.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/cpp/mapped_file.hpp"

namespace tessera {
namespace {

int32_t kv_dtype_from_name(const std::string& name) {
  if (name == "f16") return TESSERA_DTYPE_F16;
  if (name == "f32") return TESSERA_DTYPE_F32;
  if (name == "q8_0") return TESSERA_DTYPE_Q8_0;
  throw Error(fmt::format("unknown KV cache type '{}'; expected f16, f32 or q8_0", name));
}

std::string op_text(int32_t op, int32_t dtype) {
  std::string text = fmt::format("{}.{}", tessera_op_name(op), tessera_dtype_info(dtype).name);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

LlamaRuntime::LlamaRuntime(const ModelFile& model, std::vector<BackendPlacement> placements, RuntimeOptions options,
                           const LoadProgress& progress)
    : hp_(read_hyper_params(model)), options_(std::move(options)), executor_({}) {
  if (placements.empty()) throw Error("a pipeline needs at least one compute backend");
  for (const auto& p : placements) backends_.push_back(p.backend);
  executor_ = GraphExecutor(backends_);
  for (const KernelRequest& k : options_.kernels)
    for (std::size_t b = 0; b < backends_.size(); ++b)
      if (backends_[b]->name() == k.backend) {
        bindings_.push_back({static_cast<int>(b), k.op, k.dtype, k.kernel});
        logger()->info("kernel plugin '{}' runs {} on backend '{}'", k.kernel->name(), op_text(k.op, k.dtype),
                       k.backend);
      }
  executor_.bind_kernels(bindings_);
  weight_bytes_.assign(backends_.size(), 0);
  mapped_weight_bytes_.assign(backends_.size(), 0);
  kv_dtype_ = kv_dtype_from_name(options_.kv_type);
  // A quantized cache is read one head at a time, so a head must hold whole
  // blocks (llama.cpp has the same rule).
  const int64_t kv_block = tessera_dtype_info(kv_dtype_).block_elements;
  if (kv_block > 1 && hp_.head_dim() % kv_block != 0)
    throw Error(fmt::format("context.kv_type {} stores blocks of {} values, but this model's head_dim is {} "
                            "(not a multiple of {}); use kv_type f16 or f32",
                            options_.kv_type, kv_block, hp_.head_dim(), kv_block),
                TESSERA_ERR_UNSUPPORTED);
  if (options_.rope_freq_base) hp_.rope_freq_base = *options_.rope_freq_base;
  if (options_.rope_freq_scale) hp_.rope_freq_scale = *options_.rope_freq_scale;
  if (options_.context_size < 1 || options_.batch < 1) throw Error("context size and batch must be positive");
  // Like llama.cpp: allowed, but positions past the trained context are
  // ones the model never saw (and a Mistral window ends there).
  if (hp_.context_length > 0 && options_.context_size > hp_.context_length && !options_.rope_freq_scale)
    logger()->warn("context.size {} is longer than the model's trained context of {} tokens ({}.context_length); "
                   "text past it may degrade",
                   options_.context_size, hp_.context_length, "llama");
  check_tensor_shapes(model, hp_);  // before any size is computed from the metadata
  assign_layers(placements);
  check_memory(model);

  for (const auto& t : model.tensors()) total_upload_ += t.n_bytes;
  const int first = layer_backend_.front(), last = layer_backend_.back();
  // A tied head on another backend is a second upload of the embedding.
  if (const TensorInfo* embd = model.find_tensor("token_embd.weight");
      embd != nullptr && first != last && model.find_tensor("output.weight") == nullptr)
    total_upload_ += embd->n_bytes;
  token_embd_ = place(model, "token_embd.weight", TESSERA_OP_GET_ROWS, first, progress);
  output_norm_ = place(model, "output_norm.weight", TESSERA_OP_MUL, last, progress);
  // Untied models have their own head; tied ones reuse the embedding matrix.
  output_ = place(model, model.find_tensor("output.weight") ? "output.weight" : "token_embd.weight", TESSERA_OP_MUL_MAT,
                  last, progress);

  const int64_t kv_dim = hp_.head_dim() * hp_.head_count_kv;
  const uint64_t cache_bytes = tensor_bytes(kv_dtype_, {kv_dim, options_.context_size});
  for (int64_t l = 0; l < hp_.block_count; ++l) {
    const int b = layer_backend_[static_cast<std::size_t>(l)];
    const std::string p = fmt::format("blk.{}.", l);
    Layer layer{};
    layer.backend = b;
    layer.attn_norm = place(model, p + "attn_norm.weight", TESSERA_OP_MUL, b, progress);
    layer.wq = place(model, p + "attn_q.weight", TESSERA_OP_MUL_MAT, b, progress);
    layer.wk = place(model, p + "attn_k.weight", TESSERA_OP_MUL_MAT, b, progress);
    layer.wv = place(model, p + "attn_v.weight", TESSERA_OP_MUL_MAT, b, progress);
    layer.wo = place(model, p + "attn_output.weight", TESSERA_OP_MUL_MAT, b, progress);
    layer.ffn_norm = place(model, p + "ffn_norm.weight", TESSERA_OP_MUL, b, progress);
    layer.gate = place(model, p + "ffn_gate.weight", TESSERA_OP_MUL_MAT, b, progress);
    layer.up = place(model, p + "ffn_up.weight", TESSERA_OP_MUL_MAT, b, progress);
    layer.down = place(model, p + "ffn_down.weight", TESSERA_OP_MUL_MAT, b, progress);
    ComputeBackend& backend = *backends_[static_cast<std::size_t>(b)];
    if (!backend.supports(TESSERA_OP_ATTENTION, kv_dtype_) || !backend.supports(TESSERA_OP_COPY, TESSERA_DTYPE_F32))
      throw Error(fmt::format("backend '{}' cannot keep a {} KV cache (attention.{} / copy unsupported); choose "
                              "another context.kv_type or backend for layer {}",
                              backend.name(), options_.kv_type, options_.kv_type, l),
                  TESSERA_ERR_UNSUPPORTED);
    layer.k_cache = backend.allocate(cache_bytes, p + "k_cache");
    layer.v_cache = backend.allocate(cache_bytes, p + "v_cache");
    layers_.push_back(layer);
  }
  upload_staging_ = {};  // released: the load is done
  for (std::size_t b = 0; b < backends_.size(); ++b)
    if (mapped_weight_bytes_[b] > 0)
      logger()->info("backend '{}' uses {:.1f} MiB of weights in place in the mapped model file (model.mmap: false "
                     "copies them)",
                     backends_[b]->name(), static_cast<double>(mapped_weight_bytes_[b]) / (1 << 20));
}

void LlamaRuntime::assign_layers(const std::vector<BackendPlacement>& placements) {
  const int64_t n = hp_.block_count;
  layer_backend_.assign(static_cast<std::size_t>(n), -1);
  int rest = -1;
  for (std::size_t b = 0; b < placements.size(); ++b) {
    if (!placements[b].layers) {
      rest = static_cast<int>(b);
      continue;
    }
    const LayerRange& r = *placements[b].layers;
    if (r.first >= n)
      throw Error(fmt::format("backend '{}' is given layers {}, but the model has only {} layers (0-{})",
                              placements[b].backend->name(), r.to_string(), n, n - 1));
    const int64_t last = r.open_ended() ? n - 1 : std::min(r.last, n - 1);
    for (int64_t l = r.first; l <= last; ++l) layer_backend_[static_cast<std::size_t>(l)] = static_cast<int>(b);
  }
  for (int64_t l = 0; l < n; ++l) {
    int& b = layer_backend_[static_cast<std::size_t>(l)];
    if (b >= 0) continue;
    if (rest < 0)
      throw Error(fmt::format("layer {} is not assigned to any backend; give one compute entry no 'layers' to take "
                              "the rest, or cover 0-{}",
                              l, n - 1));
    b = rest;
  }
}

namespace {

// What a device can give the model: its free memory less 5% for allocator
// rounding, and on a GPU another 256 MiB per backend on it for what the
// plugin allocates on its own (dequantization slabs and attention scratch,
// the cuBLAS workspace, captured CUDA graphs), so a model that passes does
// not fail at its first prompt instead.
uint64_t usable_bytes(const tessera_device_info& info, std::size_t backends) {
  constexpr uint64_t kGpuReserve = 256ull << 20;
  const uint64_t usable = info.memory_free - info.memory_free / 20;
  if (info.type != TESSERA_DEVICE_GPU) return usable;
  const uint64_t reserve = kGpuReserve * backends;
  return usable > reserve ? usable - reserve : 0;
}

// The layer of a "blk.<n>.<name>" tensor, or -1 for tensors outside the
// layers (and for names that only look like it).
int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  int64_t layer = 0;
  std::size_t i = 4;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
    if (layer > (int64_t{1} << 40)) return -1;
    layer = layer * 10 + (name[i] - '0');
  }
  return i > 4 && i < name.size() && name[i] == '.' ? layer : -1;
}

}  // namespace

// Refuses, before allocating anything, a model + context that cannot fit:
// names every device's need (weights, KV cache, activations) and free
// memory, and for each device that is short the layer range that would fit.
// Entries on the same device (same plugin and index) share its memory.
void LlamaRuntime::check_memory(const ModelFile& model) const {
  const std::size_t n_backends = backends_.size();
  const auto n_layers = static_cast<std::size_t>(hp_.block_count);
  const int64_t kv_dim = hp_.head_dim() * hp_.head_count_kv;
  const uint64_t cache_per_layer = 2 * tensor_bytes(kv_dtype_, {kv_dim, options_.context_size});
  std::vector<uint64_t> fixed(n_backends, 0);                    // weights outside the layers
  std::vector<uint64_t> layer_bytes(n_layers, cache_per_layer);  // a layer's weights + its KV cache
  const auto first = static_cast<std::size_t>(layer_backend_.front());
  const auto last = static_cast<std::size_t>(layer_backend_.back());
  const bool tied = model.find_tensor("output.weight") == nullptr;
  for (const auto& t : model.tensors()) {
    const int64_t layer = layer_of(t.name);
    if (layer >= 0 && layer < hp_.block_count) {
      layer_bytes[static_cast<std::size_t>(layer)] += t.n_bytes;
    } else if (t.name.rfind("output", 0) == 0) {
      fixed[last] += t.n_bytes;
    } else {
      fixed[first] += t.n_bytes;
      // A tied head is the embedding matrix, placed again on the last backend.
      if (tied && t.name == "token_embd.weight" && last != first) fixed[last] += t.n_bytes;
    }
  }
  // Every backend holds the executor's activation scratch for a full batch.
  const auto e = static_cast<uint64_t>(hp_.embedding_length), ff = static_cast<uint64_t>(hp_.feed_forward_length);
  const uint64_t activations =
      4 * static_cast<uint64_t>(options_.batch) * (10 * e + 3 * ff + static_cast<uint64_t>(hp_.vocab_size) + 2);

  // One group per physical device, entries in pipeline order.
  struct Device {
    std::vector<std::size_t> entries;
    tessera_device_info info{};
    uint64_t fixed = 0;  // non-layer weights and activations of all its entries
    uint64_t need = 0;
  };
  std::vector<Device> devices;
  std::vector<std::size_t> device_of(n_backends);
  for (std::size_t b = 0; b < n_backends; ++b) {
    std::size_t d = 0;
    while (d < devices.size() && !(backends_[devices[d].entries.front()]->name() == backends_[b]->name() &&
                                   backends_[devices[d].entries.front()]->device() == backends_[b]->device()))
      ++d;
    if (d == devices.size()) {
      devices.emplace_back();
      devices[d].info = backends_[b]->info();
    }
    devices[d].entries.push_back(b);
    devices[d].fixed += fixed[b] + activations;
    device_of[b] = d;
  }
  for (Device& d : devices) d.need = d.fixed;
  for (std::size_t l = 0; l < n_layers; ++l)
    devices[device_of[static_cast<std::size_t>(layer_backend_[l])]].need += layer_bytes[l];

  auto gib = [](uint64_t bytes) { return static_cast<double>(bytes) / (1ull << 30); };
  std::string summary, advice;
  bool short_anywhere = false;
  for (const Device& d : devices) {
    const ComputeBackend& backend = *backends_[d.entries.front()];
    const std::string where = fmt::format("'{}' device {}", backend.name(), backend.device());
    const uint64_t usable = usable_bytes(d.info, d.entries.size());
    summary += fmt::format("\n  {} ({}{}): needs {:.2f} GiB, {:.2f} GiB free, {:.2f} GiB usable", where,
                           d.info.name, d.entries.size() > 1 ? fmt::format(", {} entries", d.entries.size()) : "",
                           gib(d.need), gib(d.info.memory_free), gib(usable));
    if (d.info.memory_free == 0 || d.need <= usable) continue;  // 0: the device cannot tell
    short_anywhere = true;
    summary += " <- too little";
    // The longest run of this device's layers, from its first, that fits
    // next to its fixed part.
    std::vector<std::size_t> layers;
    for (std::size_t l = 0; l < n_layers; ++l)
      if (device_of[static_cast<std::size_t>(layer_backend_[l])] == static_cast<std::size_t>(&d - devices.data()))
        layers.push_back(l);
    uint64_t used = d.fixed;
    std::size_t fit = 0;
    const bool one_range = d.entries.size() == 1;  // suggest a range it can be given as `layers: a-b`
    while (fit < layers.size() && used + layer_bytes[layers[fit]] <= usable &&
           !(one_range && fit > 0 && layers[fit] != layers[fit - 1] + 1))
      used += layer_bytes[layers[fit++]];
    if (d.fixed > usable || layers.empty())
      advice += fmt::format("\n  {} cannot hold even its non-layer part ({:.2f} GiB); move the embedding/output to "
                            "another backend or shrink context.batch",
                            where, gib(d.fixed));
    else if (fit == 0)
      advice += fmt::format("\n  {}: no layer fits (one layer with its KV cache is {:.2f} GiB); shrink "
                            "context.size or use kv_type q8_0",
                            where, gib(layer_bytes[layers.front()]));
    else if (d.entries.size() > 1)
      advice += fmt::format("\n  {}: its {} entries hold {} layers together, about {} fit; give them fewer layers "
                            "and the rest to another entry",
                            where, d.entries.size(), layers.size(), fit);
    else
      advice += fmt::format("\n  {}: about {} layer(s) fit: give it layers: {}-{} and the rest to another entry{}",
                            where, fit, layers.front(), layers[fit - 1],
                            backend.name() == "cpu" ? "" : " (e.g. {backend: cpu})");
  }
  if (!short_anywhere) return;
  throw Error(fmt::format("the model does not fit with a {}-token {} KV cache (batch {}):{}\nsuggested split:{}\nor "
                          "shrink context.size",
                          options_.context_size, options_.kv_type, options_.batch, summary, advice),
              TESSERA_ERR_OUT_OF_MEMORY);
}

bool LlamaRuntime::can_run(int backend, int32_t op, int32_t dtype) const {
  for (const KernelBinding& k : bindings_)
    if (k.backend == backend && k.op == op && k.dtype == dtype) return true;
  return backends_[static_cast<std::size_t>(backend)]->supports(op, dtype);
}

int LlamaRuntime::backend_for(int32_t op, int32_t dtype, int wanted) const {
  if (can_run(wanted, op, dtype)) return wanted;
  for (std::size_t b = 0; b < backends_.size(); ++b) {
    if (!can_run(static_cast<int>(b), op, dtype)) continue;
    const std::string key = fmt::format("{}/{}/{}", op_text(op, dtype), wanted, b);
    if (!fallback_logged_[key]) {
      logger()->warn("backend '{}' cannot run {}; running it on '{}' instead",
                     backends_[static_cast<std::size_t>(wanted)]->name(), op_text(op, dtype), backends_[b]->name());
      fallback_logged_[key] = true;
    }
    return static_cast<int>(b);
  }
  throw Error(fmt::format("no backend in the pipeline can run {} (tried {})", op_text(op, dtype),
                          backends_[static_cast<std::size_t>(wanted)]->name()),
              TESSERA_ERR_UNSUPPORTED);
}

namespace {

constexpr uint64_t kPageBytes = 4096;

// Reads one byte per page, so the page faults happen now.
void touch_pages(const void* mapped, uint64_t size) {
  const auto* bytes = static_cast<const volatile uint8_t*>(mapped);
  const auto address = reinterpret_cast<uintptr_t>(mapped);
  uint8_t sink = 0;
  for (uint64_t i = 0; i < size; i += kPageBytes - (address + i) % kPageBytes) sink ^= bytes[i];
  (void)sink;
}

}  // namespace

void LlamaRuntime::load_mapped(const void* mapped, uint64_t size, const LoadProgress& progress,
                               const std::function<void(uint64_t offset, uint64_t n)>& use) {
  constexpr uint64_t kSlice = 64ull << 20;
  const auto* bytes = static_cast<const uint8_t*>(mapped);
  for (uint64_t done = 0; done < size;) {
    const uint64_t n = std::min(kSlice, size - done);
    sdk::advise_will_need(bytes + done, n);
    use(done, n);
    done += n;
    uploaded_ += n;
    if (progress && done < size) progress(uploaded_, total_upload_);
  }
}

LlamaRuntime::Placed LlamaRuntime::place(const ModelFile& model, const std::string& name, int32_t op, int wanted,
                                         const LoadProgress& progress) {
  const TensorInfo* info = model.find_tensor(name);
  if (info == nullptr) throw Error(fmt::format("{}: tensor '{}' is missing", model.path().string(), name), TESSERA_ERR_FORMAT);
  const int b = backend_for(op, info->dtype, wanted);
  if (auto it = placed_.find({name, b}); it != placed_.end()) return it->second;
  std::vector<int64_t> ne(info->dims.begin(), info->dims.end());
  ComputeBackend& backend = *backends_[static_cast<std::size_t>(b)];
  const std::size_t index = static_cast<std::size_t>(info - model.tensors().data());
  const void* mapped = model.map_tensor(index);
  tessera_buffer* buffer = nullptr;
  if (mapped != nullptr && options_.mmap) {
    std::string why_not;
    buffer = backend.wrap_host(mapped, info->n_bytes, name, &why_not);
    if (buffer != nullptr) {
      mapped_weight_bytes_[static_cast<std::size_t>(b)] += info->n_bytes;
      // In place: paged in now, so the first token does not pay for it.
      load_mapped(mapped, info->n_bytes, progress,
                  [&](uint64_t offset, uint64_t n) { touch_pages(static_cast<const uint8_t*>(mapped) + offset, n); });
    } else if (!why_not.empty() && !fallback_logged_[why_not]) {
      logger()->debug("{}: copied, not used in place: {}", name, why_not);
      fallback_logged_[why_not] = true;
    }
  }
  if (buffer == nullptr) {
    buffer = backend.allocate(info->n_bytes, name);
    if (mapped != nullptr) {
      // Straight from the mapping (no extra copy).
      load_mapped(mapped, info->n_bytes, progress, [&](uint64_t offset, uint64_t n) {
        const uint8_t* bytes = static_cast<const uint8_t*>(mapped) + offset;
        backend.write(buffer, offset, bytes, n);
        sdk::release_resident(bytes, n);  // copied: not held twice
      });
    } else {
      // One staging buffer for every such tensor of the load: a fresh
      // vector per tensor left freed holes between the weight buffers that
      // malloc kept resident (0.45 GiB of peak RSS on a 7B GPTQ model).
      model.read_tensor(index, upload_staging_);
      backend.write(buffer, 0, upload_staging_.data(), info->n_bytes);
      uploaded_ += info->n_bytes;
    }
  }
  weight_bytes_[static_cast<std::size_t>(b)] += info->n_bytes;
  if (progress) progress(uploaded_, total_upload_);
  Placed placed{b, make_tensor(info->dtype, ne, buffer, 0, nullptr)};
  placed_[{name, b}] = placed;
  placed_[{name, b}].tensor.name = placed_.find({name, b})->first.first.c_str();  // stable storage
  return placed_[{name, b}];
}

const std::string& LlamaRuntime::layer_backend(int64_t layer) const {
  return backends_[static_cast<std::size_t>(layer_backend_.at(static_cast<std::size_t>(layer)))]->name();
}

std::vector<float> LlamaRuntime::evaluate(std::span<const int32_t> tokens, bool all_logits) {
  if (tokens.empty()) throw Error("nothing to evaluate: no tokens");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > options_.context_size)
    throw Error(fmt::format("the context is full: {} tokens in it, {} more do not fit in context.size {}", n_past_,
                            tokens.size(), options_.context_size),
                TESSERA_ERR_OUT_OF_RANGE);
  for (int32_t id : tokens)
    if (id < 0 || id >= hp_.vocab_size)
      throw Error(fmt::format("token id {} is outside the vocabulary (0-{})", id, hp_.vocab_size - 1), TESSERA_ERR_OUT_OF_RANGE);
  std::vector<float> logits;
  for (std::size_t start = 0; start < tokens.size(); start += static_cast<std::size_t>(options_.batch)) {
    const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(options_.batch), tokens.size() - start);
    const bool last_batch = start + n == tokens.size();
    std::vector<float> part = evaluate_batch(tokens.subspan(start, n), all_logits);
    if (all_logits) logits.insert(logits.end(), part.begin(), part.end());
    else if (last_batch) logits = std::move(part);
  }
  return logits;
}

std::vector<float> LlamaRuntime::evaluate_batch(std::span<const int32_t> tokens, bool all_logits) {
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t e = hp_.embedding_length, hd = hp_.head_dim(), heads = hp_.head_count, kv_heads = hp_.head_count_kv;
  const int64_t kv_dim = hd * kv_heads, ff = hp_.feed_forward_length, vocab = hp_.vocab_size;
  const int64_t n_out = all_logits ? n : 1;
  const float eps = static_cast<float>(hp_.rms_epsilon);
  const uint64_t kv_elem = tensor_bytes(kv_dtype_, {kv_dim});  // bytes of one cache row

  GraphPlan g;
  const int ids = g.activation("token_ids", TESSERA_DTYPE_I32, {n});
  const int positions = g.activation("positions", TESSERA_DTYPE_I32, {n});
  const int x = g.activation("x", TESSERA_DTYPE_F32, {e, n});
  const int cur = g.activation("cur", TESSERA_DTYPE_F32, {e, n});
  const int q = g.activation("q", TESSERA_DTYPE_F32, {e, n});
  const int k = g.activation("k", TESSERA_DTYPE_F32, {kv_dim, n});
  const int v = g.activation("v", TESSERA_DTYPE_F32, {kv_dim, n});
  const int q_rope = g.activation("q_rope", TESSERA_DTYPE_F32, {e, n});
  const int k_rope = g.activation("k_rope", TESSERA_DTYPE_F32, {kv_dim, n});
  const int attn = g.activation("attn", TESSERA_DTYPE_F32, {e, n});
  const int o = g.activation("attn_out", TESSERA_DTYPE_F32, {e, n});
  const int gate = g.activation("ffn_gate", TESSERA_DTYPE_F32, {ff, n});
  const int up = g.activation("ffn_up", TESSERA_DTYPE_F32, {ff, n});
  const int act = g.activation("ffn_act", TESSERA_DTYPE_F32, {ff, n});
  const int down = g.activation("ffn_down", TESSERA_DTYPE_F32, {e, n});
  const int logits = g.activation("logits", TESSERA_DTYPE_F32, {vocab, n_out});

  // Per-head views [head_dim, heads, tokens] for RoPE and attention.
  const int q_heads = g.view(q, "q_heads", {hd, heads, n});
  const int q_rope_heads = g.view(q_rope, "q_rope_heads", {hd, heads, n});
  const int k_heads = g.view(k, "k_heads", {hd, kv_heads, n});
  const int k_rope_heads = g.view(k_rope, "k_rope_heads", {hd, kv_heads, n});
  const int attn_heads = g.view(attn, "attn_heads", {hd, heads, n});

  auto node_backend = [&](int32_t op, int32_t dtype, int wanted) { return backend_for(op, dtype, wanted); };
  auto weight = [&](const Placed& p) { return g.resident(p.tensor, p.backend, p.tensor.name ? p.tensor.name : "weight"); };

  const int embd = weight(token_embd_);
  g.add(TESSERA_OP_GET_ROWS, x, {embd, ids}, token_embd_.backend);

  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const int b = L.backend;
    const int f32_b = node_backend(TESSERA_OP_RMS_NORM, TESSERA_DTYPE_F32, b);
    g.add(TESSERA_OP_RMS_NORM, cur, {x}, f32_b).f_params[0] = eps;
    g.add(TESSERA_OP_MUL, cur, {cur, weight(L.attn_norm)}, L.attn_norm.backend);
    g.add(TESSERA_OP_MUL_MAT, q, {weight(L.wq), cur}, L.wq.backend);
    g.add(TESSERA_OP_MUL_MAT, k, {weight(L.wk), cur}, L.wk.backend);
    g.add(TESSERA_OP_MUL_MAT, v, {weight(L.wv), cur}, L.wv.backend);
    for (auto [src, dst] : {std::pair{q_heads, q_rope_heads}, std::pair{k_heads, k_rope_heads}}) {
      PlanNode& rope = g.add(TESSERA_OP_ROPE, dst, {src, positions}, node_backend(TESSERA_OP_ROPE, TESSERA_DTYPE_F32, b));
      rope.i_params[0] = static_cast<int32_t>(hp_.rope_dimension_count);
      rope.f_params[0] = static_cast<float>(hp_.rope_freq_base);
      rope.f_params[1] = static_cast<float>(hp_.rope_freq_scale);
    }
    // New keys and values go into the cache at positions n_past .. n_past + n - 1.
    const uint64_t at = static_cast<uint64_t>(n_past_) * kv_elem;
    const int k_slot = g.resident(make_tensor(kv_dtype_, {kv_dim, n}, L.k_cache, at, "k_cache"), b, "k_cache");
    const int v_slot = g.resident(make_tensor(kv_dtype_, {kv_dim, n}, L.v_cache, at, "v_cache"), b, "v_cache");
    g.add(TESSERA_OP_COPY, k_slot, {g.view(k_rope, "k_new", {kv_dim, n})}, b);
    g.add(TESSERA_OP_COPY, v_slot, {v}, b);
    const int k_all = g.resident(make_tensor(kv_dtype_, {hd, kv_heads, options_.context_size}, L.k_cache, 0, "k_cache"), b, "k_cache");
    const int v_all = g.resident(make_tensor(kv_dtype_, {hd, kv_heads, options_.context_size}, L.v_cache, 0, "v_cache"), b, "v_cache");
    PlanNode& attention = g.add(TESSERA_OP_ATTENTION, attn_heads, {q_rope_heads, k_all, v_all}, b);
    attention.i_params[0] = static_cast<int32_t>(n_past_);
    attention.i_params[1] = static_cast<int32_t>(n_past_ + n);
    attention.f_params[0] = 1.0f / std::sqrt(static_cast<float>(hd));
    g.add(TESSERA_OP_MUL_MAT, o, {weight(L.wo), attn}, L.wo.backend);
    g.add(TESSERA_OP_ADD, x, {x, o}, node_backend(TESSERA_OP_ADD, TESSERA_DTYPE_F32, b));
    g.add(TESSERA_OP_RMS_NORM, cur, {x}, f32_b).f_params[0] = eps;
    g.add(TESSERA_OP_MUL, cur, {cur, weight(L.ffn_norm)}, L.ffn_norm.backend);
    g.add(TESSERA_OP_MUL_MAT, gate, {weight(L.gate), cur}, L.gate.backend);
    g.add(TESSERA_OP_MUL_MAT, up, {weight(L.up), cur}, L.up.backend);
    g.add(TESSERA_OP_SWIGLU, act, {gate, up}, node_backend(TESSERA_OP_SWIGLU, TESSERA_DTYPE_F32, b));
    g.add(TESSERA_OP_MUL_MAT, down, {weight(L.down), act}, L.down.backend);
    g.add(TESSERA_OP_ADD, x, {x, down}, node_backend(TESSERA_OP_ADD, TESSERA_DTYPE_F32, b));
  }
  const int last_b = layer_backend_.back();
  g.add(TESSERA_OP_RMS_NORM, cur, {x}, node_backend(TESSERA_OP_RMS_NORM, TESSERA_DTYPE_F32, last_b)).f_params[0] = eps;
  g.add(TESSERA_OP_MUL, cur, {cur, weight(output_norm_)}, output_norm_.backend);
  const int head_input = all_logits ? cur : g.view(cur, "cur_last", {e, 1}, static_cast<uint64_t>((n - 1) * e) * 4);
  g.add(TESSERA_OP_MUL_MAT, logits, {weight(output_), head_input}, output_.backend);

  executor_.prepare(g);
  std::vector<int32_t> token_positions(static_cast<std::size_t>(n));
  for (int64_t t = 0; t < n; ++t) token_positions[static_cast<std::size_t>(t)] = static_cast<int32_t>(n_past_ + t);
  executor_.write_input(g, ids, tokens.data(), tokens.size() * 4);
  executor_.write_input(g, positions, token_positions.data(), token_positions.size() * 4);
  executor_.run(g);
  std::vector<float> out(static_cast<std::size_t>(vocab * n_out));
  executor_.read_output(g, logits, out.data(), out.size() * 4);
  n_past_ += n;
  return out;
}

}  // namespace tessera
