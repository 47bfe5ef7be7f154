// A strict safetensors parser: 8-byte little-endian header length, a JSON
// header naming every tensor's dtype, shape and [begin, end) byte range, then
// the data section. Everything is checked before a tensor is handed out:
// the header fits the file, each range lies inside the data section and is
// exactly shape x dtype size, and the ranges tile the data section without
// overlaps or holes (the format's own rule). Works on a memory buffer so the
// tests and the fuzzer need no files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::gptq {

// Element types of the safetensors format.
enum class StDtype { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

// "F16", ... as written in the header.
const char* st_dtype_name(StDtype dtype);
uint64_t st_dtype_size(StDtype dtype);
std::optional<StDtype> st_dtype_from_name(std::string_view name);

// Header lengths above this are refused: real headers are a few MB at most.
inline constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
inline constexpr size_t kMaxTensorDims = 8;

struct StTensor {
  std::string name;
  StDtype dtype;
  std::vector<uint64_t> shape;  // row-major, as written (slowest first)
  uint64_t begin = 0;           // relative to the data section
  uint64_t end = 0;
  const uint8_t* data = nullptr;  // inside the buffer
  uint64_t n_bytes() const { return end - begin; }
  uint64_t element_count() const;
};

struct StContents {
  std::vector<StTensor> tensors;                 // in header order
  std::map<std::string, std::string> metadata;  // __metadata__
  uint64_t data_offset = 0;                      // 8 + header length
  const StTensor* find(std::string_view name) const;
};

// Parses `size` bytes at `data`. `file` names the input in error messages.
// Throws sdk::Error(TESSERA_ERR_FORMAT) naming the file, tensor and field.
StContents parse_safetensors(const uint8_t* data, uint64_t size, const std::string& file);

}  // namespace tessera::gptq
