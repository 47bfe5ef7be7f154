// Parser for one GGUF file held in memory (normally a read-only mapping).
//
// GGUF layout (versions 2 and 3; all integers little-endian; from the public
// GGUF specification):
//
//   header
//     char[4]  magic "GGUF"
//     uint32   version            2 or 3 (1 used uint32 counts and is refused)
//     uint64   tensor_count
//     uint64   metadata_kv_count
//   metadata_kv_count times
//     string   key                uint64 length + bytes, no NUL
//     uint32   value_type         0 UINT8, 1 INT8, 2 UINT16, 3 INT16, 4 UINT32,
//                                 5 INT32, 6 FLOAT32, 7 BOOL (1 byte, 0/1),
//                                 8 STRING, 9 ARRAY, 10 UINT64, 11 INT64,
//                                 12 FLOAT64
//     value                       scalars in place; STRING as above; ARRAY as
//                                 uint32 element_type, uint64 count, then
//                                 `count` values of that type (arrays nest)
//   tensor_count times
//     string   name
//     uint32   n_dims
//     uint64   dims[n_dims]       dims[0] varies fastest
//     uint32   type               ggml type id (= tessera_dtype)
//     uint64   offset             relative to the data section start, a
//                                 multiple of the alignment
//   padding to a multiple of the alignment (metadata `general.alignment`,
//   UINT32, a power of two; default 32)
//   data section: tensor bytes; a tensor of type T holds
//     dims[0] / block_elements(T) * block_bytes(T) * dims[1] * ... bytes.
//
// What this reader accepts beyond that, and why:
//   - n_dims is 1..4 (GGML_MAX_DIMS); tessera_tensor_info could carry 8, but
//     no GGUF writer produces more and consumers assume ggml's 4.
//   - tensors may appear in any order and with gaps, but must be aligned,
//     lie inside the data section and not overlap; names and keys are unique.
//   - type ids without block geometry in tessera_dtype_info() are refused.
//   - a dims product or byte size that overflows uint64 is refused.
// Every violation throws sdk::Error(TESSERA_ERR_FORMAT) naming the file, the
// field and the expected value. Nothing is read outside [data, data + size).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metadata.hpp"
#include "tessera/format.h"

namespace tessera::gguf {

inline constexpr uint32_t kMaxTensorDims = 4;
inline constexpr uint64_t kDefaultAlignment = 32;

struct TensorRecord {
  std::string name;  // own copy: the ABI hands out NUL-terminated names
  int32_t dtype = TESSERA_DTYPE_INVALID;
  uint32_t n_dims = 0;
  uint64_t dims[TESSERA_MAX_DIMS] = {};
  uint64_t offset = 0;   // relative to the data section
  uint64_t n_bytes = 0;
};

struct GgufContents {
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  Metadata metadata;
  std::vector<TensorRecord> tensors;
  uint64_t data_offset = 0;  // absolute start of the data section
  uint64_t data_size = 0;    // bytes from data_offset to the end of the buffer
};

// Parses and validates a complete GGUF file image. `file` names it in errors.
// The result points into `data`, which must outlive it.
GgufContents parse_gguf(const uint8_t* data, uint64_t size, std::string_view file);

}  // namespace tessera::gguf
