// Producing GGUF models: re-quantizing an existing file, and synthesising a
// model of a known shape with random weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "tessera/core/model_shapes.hpp"

namespace tessera {

class ModelFile;

// Called after each tensor: (index, count, tensor name, its dtype).
using TensorProgress = std::function<void(std::size_t, std::size_t, const std::string&, int32_t)>;

// Parses "Q4_K", "q4_k", "F16", ...; throws tessera::Error listing the
// supported names otherwise.
int32_t parse_quant_type(const std::string& name);

// The type a 2-D weight of row length `row` gets when `wanted` is asked for:
// `wanted` if the row is a multiple of its block, else Q8_0, else F16.
int32_t fallback_type(int32_t wanted, uint64_t row);

// llama.cpp's general.file_type value for a whole-model type.
uint32_t llama_file_type(int32_t dtype);

struct QuantizeStats {
  std::size_t quantized = 0;   // tensors converted to the requested type
  std::size_t fell_back = 0;   // tensors whose rows did not fit the block size
  std::size_t kept = 0;        // 1-D tensors (norms) kept as F32
  uint64_t bytes_in = 0, bytes_out = 0;
};

// Writes `input`'s metadata and tensors to `output`, every 2-D weight in
// `dtype` (see fallback_type), 1-D tensors as F32.
QuantizeStats quantize_model(const ModelFile& input, const std::filesystem::path& output, int32_t dtype,
                             const TensorProgress& progress = {});

// Writes a llama-architecture model of `shape` with seeded random weights
// (scaled so activations stay well-behaved) and a placeholder vocabulary.
QuantizeStats synthesize_model(const ModelShape& shape, int32_t dtype, const std::filesystem::path& output,
                               uint64_t seed, const TensorProgress& progress = {});

}  // namespace tessera
