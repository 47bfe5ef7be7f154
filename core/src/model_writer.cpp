#include "tessera/core/model_writer.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <future>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/gguf_writer.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/quantize.hpp"

namespace tessera {
namespace {

constexpr int32_t kWritableTypes[] = {
    TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0,   TESSERA_DTYPE_Q4_1,
    TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K,   TESSERA_DTYPE_Q3_K,
    TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K,   TESSERA_DTYPE_IQ4_NL,
    TESSERA_DTYPE_IQ4_XS};

uint64_t row_bytes(int32_t dtype, uint64_t row) {
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  return row / t.block_elements * t.block_bytes;
}

// Quantizes `rows` rows of `row` floats into `out`, spread over the cores.
void quantize_rows(int32_t dtype, const float* in, uint8_t* out, uint64_t rows, uint64_t row) {
  const uint64_t out_row = row_bytes(dtype, row);
  const uint64_t workers = std::max<uint64_t>(1, std::min<uint64_t>(std::thread::hardware_concurrency(), rows / 4));
  std::vector<std::future<void>> jobs;
  for (uint64_t w = 0; w < workers; ++w) {
    const uint64_t begin = rows * w / workers, end = rows * (w + 1) / workers;
    jobs.push_back(std::async(std::launch::async, [=] {
      for (uint64_t r = begin; r < end; ++r)
        quant::quantize_row(dtype, in + r * row, out + r * out_row, static_cast<int64_t>(row));
    }));
  }
  for (auto& job : jobs) job.get();
}

// Deterministic uniform random numbers (splitmix64), fast enough for 70B.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f; }  // [-1, 1)
};

}  // namespace

int32_t parse_quant_type(const std::string& name) {
  std::string upper = name;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string known;
  for (int32_t t : kWritableTypes) {
    if (upper == tessera_dtype_info(t).name) return t;
    known += (known.empty() ? "" : ", ") + std::string(tessera_dtype_info(t).name);
  }
  throw Error(fmt::format("unknown quantization type '{}'; expected one of {}", name, known));
}

int32_t fallback_type(int32_t wanted, uint64_t row) {
  if (row % tessera_dtype_info(wanted).block_elements == 0) return wanted;
  if (row % 32 == 0) return TESSERA_DTYPE_Q8_0;
  return TESSERA_DTYPE_F16;
}

uint32_t llama_file_type(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_F32: return 0;
    case TESSERA_DTYPE_F16: return 1;
    case TESSERA_DTYPE_Q4_0: return 2;
    case TESSERA_DTYPE_Q4_1: return 3;
    case TESSERA_DTYPE_Q8_0: return 7;
    case TESSERA_DTYPE_Q5_0: return 8;
    case TESSERA_DTYPE_Q5_1: return 9;
    case TESSERA_DTYPE_Q2_K: return 10;
    case TESSERA_DTYPE_Q3_K: return 11;  // Q3_K_S: every weight Q3_K
    case TESSERA_DTYPE_Q4_K: return 14;  // Q4_K_S
    case TESSERA_DTYPE_Q5_K: return 16;  // Q5_K_S
    case TESSERA_DTYPE_Q6_K: return 18;
    case TESSERA_DTYPE_IQ4_NL: return 25;
    case TESSERA_DTYPE_IQ4_XS: return 30;
    case TESSERA_DTYPE_BF16: return 32;
    default: return 0;
  }
}

QuantizeStats quantize_model(const ModelFile& input, const std::filesystem::path& output, int32_t dtype,
                             const TensorProgress& progress) {
  GgufWriter writer;
  for (const auto& [key, value] : input.metadata())
    if (key != "general.alignment") writer.set(key, value);
  writer.set("general.file_type", MetadataValue::u32(llama_file_type(dtype)));
  writer.set("general.quantization_version", MetadataValue::u32(2));

  QuantizeStats stats;
  std::vector<int32_t> out_types;
  for (const auto& t : input.tensors()) {
    int32_t out = TESSERA_DTYPE_F32;
    if (t.dims.size() >= 2) {
      out = fallback_type(dtype, t.dims[0]);
      (out == dtype ? stats.quantized : stats.fell_back)++;
    } else {
      stats.kept++;
    }
    if (tessera_dtype_info(t.dtype).block_elements == 0)
      throw Error(fmt::format("{}: tensor '{}' has type {} ({}), which tessera cannot dequantize",
                              input.path().string(), t.name, tessera_dtype_info(t.dtype).name ? tessera_dtype_info(t.dtype).name : "?",
                              t.dtype),
                  TESSERA_ERR_UNSUPPORTED);
    out_types.push_back(out);
    writer.add_tensor(t.name, out, t.dims);
  }
  writer.begin(output);
  for (std::size_t i = 0; i < input.tensors().size(); ++i) {
    const TensorInfo& t = input.tensors()[i];
    const std::vector<uint8_t> bytes = input.read_tensor(i);
    stats.bytes_in += bytes.size();
    if (t.dtype == out_types[i]) {
      writer.write(bytes.data(), bytes.size());
    } else {
      const uint64_t row = t.dims[0], rows = t.element_count() / row;
      std::vector<float> values(t.element_count());
      if (!quant::dequantize_row(t.dtype, bytes.data(), values.data(), static_cast<int64_t>(values.size())))
        throw Error(fmt::format("tensor '{}': cannot dequantize type {}", t.name, t.dtype), TESSERA_ERR_UNSUPPORTED);
      std::vector<uint8_t> out(writer.tensor_bytes(i));
      quantize_rows(out_types[i], values.data(), out.data(), rows, row);
      writer.write(out.data(), out.size());
    }
    stats.bytes_out += writer.tensor_bytes(i);
    if (progress) progress(i + 1, input.tensors().size(), t.name, out_types[i]);
  }
  writer.finish();
  return stats;
}

QuantizeStats synthesize_model(const ModelShape& shape, int32_t dtype, const std::filesystem::path& output,
                               uint64_t seed, const TensorProgress& progress) {
  GgufWriter writer;
  writer.set("general.architecture", MetadataValue::string("llama"));
  writer.set("general.name", MetadataValue::string(shape.name + " (tessera synth, random weights)"));
  writer.set("general.file_type", MetadataValue::u32(llama_file_type(dtype)));
  writer.set("general.quantization_version", MetadataValue::u32(2));
  writer.set("llama.context_length", MetadataValue::u32(static_cast<uint32_t>(shape.context)));
  writer.set("llama.embedding_length", MetadataValue::u32(static_cast<uint32_t>(shape.embedding)));
  writer.set("llama.block_count", MetadataValue::u32(static_cast<uint32_t>(shape.layers)));
  writer.set("llama.feed_forward_length", MetadataValue::u32(static_cast<uint32_t>(shape.feed_forward)));
  writer.set("llama.attention.head_count", MetadataValue::u32(static_cast<uint32_t>(shape.heads)));
  writer.set("llama.attention.head_count_kv", MetadataValue::u32(static_cast<uint32_t>(shape.kv_heads)));
  writer.set("llama.rope.dimension_count", MetadataValue::u32(static_cast<uint32_t>(shape.head_dim())));
  writer.set("llama.rope.freq_base", MetadataValue::f32(static_cast<float>(shape.rope_base)));
  writer.set("llama.attention.layer_norm_rms_epsilon", MetadataValue::f32(static_cast<float>(shape.rms_epsilon)));
  writer.set("llama.vocab_size", MetadataValue::u32(static_cast<uint32_t>(shape.vocab_size)));

  // A placeholder SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256
  // byte tokens, then numbered pieces. Enough for tokenizer code paths.
  std::vector<MetadataValue> tokens, scores, types;
  for (int64_t i = 0; i < shape.vocab_size; ++i) {
    std::string piece;
    int32_t type = 1;  // normal
    if (i == 0) piece = "<unk>", type = 2;
    else if (i == 1) piece = "<s>", type = 3;
    else if (i == 2) piece = "</s>", type = 3;
    else if (i < 259) piece = fmt::format("<0x{:02X}>", i - 3), type = 6;
    else piece = fmt::format("\xE2\x96\x81t{}", i);
    tokens.push_back(MetadataValue::string(piece));
    scores.push_back(MetadataValue::f32(-static_cast<float>(i)));
    types.push_back(MetadataValue::i32(type));
  }
  writer.set("tokenizer.ggml.model", MetadataValue::string("llama"));
  writer.set("tokenizer.ggml.tokens", MetadataValue::array(TESSERA_VALUE_STRING, std::move(tokens)));
  writer.set("tokenizer.ggml.scores", MetadataValue::array(TESSERA_VALUE_FLOAT32, std::move(scores)));
  writer.set("tokenizer.ggml.token_type", MetadataValue::array(TESSERA_VALUE_INT32, std::move(types)));
  writer.set("tokenizer.ggml.unknown_token_id", MetadataValue::u32(0));
  writer.set("tokenizer.ggml.bos_token_id", MetadataValue::u32(1));
  writer.set("tokenizer.ggml.eos_token_id", MetadataValue::u32(2));

  struct Planned {
    std::string name;
    std::vector<uint64_t> dims;
    int32_t dtype;
  };
  std::vector<Planned> plan;
  QuantizeStats stats;
  const auto e = static_cast<uint64_t>(shape.embedding), ff = static_cast<uint64_t>(shape.feed_forward);
  const auto kv = static_cast<uint64_t>(shape.head_dim() * shape.kv_heads), vocab = static_cast<uint64_t>(shape.vocab_size);
  auto weight = [&](std::string name, uint64_t row, uint64_t rows) {
    const int32_t t = fallback_type(dtype, row);
    (t == dtype ? stats.quantized : stats.fell_back)++;
    plan.push_back({std::move(name), {row, rows}, t});
  };
  auto norm = [&](std::string name) {
    stats.kept++;
    plan.push_back({std::move(name), {e}, TESSERA_DTYPE_F32});
  };
  weight("token_embd.weight", e, vocab);
  norm("output_norm.weight");
  if (!shape.tied_embeddings) weight("output.weight", e, vocab);
  for (int64_t l = 0; l < shape.layers; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    norm(p + "attn_norm.weight");
    weight(p + "attn_q.weight", e, e);
    weight(p + "attn_k.weight", e, kv);
    weight(p + "attn_v.weight", e, kv);
    weight(p + "attn_output.weight", e, e);
    norm(p + "ffn_norm.weight");
    weight(p + "ffn_gate.weight", e, ff);
    weight(p + "ffn_up.weight", e, ff);
    weight(p + "ffn_down.weight", ff, e);
  }
  for (const auto& t : plan) writer.add_tensor(t.name, t.dtype, t.dims);
  writer.begin(output);

  SplitMix rng{seed};
  constexpr uint64_t kChunkRows = 256;  // bounded memory per step
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const Planned& t = plan[i];
    const uint64_t row = t.dims[0], rows = t.dims.size() > 1 ? t.dims[1] : 1;
    if (t.dims.size() == 1) {
      const std::vector<float> ones(row, 1.0f);
      writer.write(ones.data(), row * 4);
    } else {
      // Uniform with variance 1/row: each output of a mat-vec has unit scale.
      const float amplitude = std::sqrt(3.0f / static_cast<float>(row));
      std::vector<float> values(kChunkRows * row);
      std::vector<uint8_t> out(kChunkRows * row_bytes(t.dtype, row));
      for (uint64_t r = 0; r < rows; r += kChunkRows) {
        const uint64_t n = std::min(kChunkRows, rows - r);
        for (uint64_t j = 0; j < n * row; ++j) values[j] = amplitude * rng.uniform();
        quantize_rows(t.dtype, values.data(), out.data(), n, row);
        writer.write(out.data(), n * row_bytes(t.dtype, row));
      }
    }
    stats.bytes_out += writer.tensor_bytes(i);
    if (progress) progress(i + 1, plan.size(), t.name, t.dtype);
  }
  writer.finish();
  return stats;
}

}  // namespace tessera
