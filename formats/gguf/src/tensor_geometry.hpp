// Byte size of a GGUF tensor from its ggml type and dims, with the checks
// that keep hostile dims from overflowing or being guessed at.
#pragma once

#include <cstdint>
#include <string_view>

namespace tessera::gguf {

struct TensorRecord;

// Sets record.n_bytes. Throws sdk::Error(TESSERA_ERR_FORMAT) naming the file
// and tensor when the type id has no block geometry, dims[0] is not a
// multiple of the block size, or the element count or byte size overflows.
void compute_tensor_bytes(TensorRecord& record, std::string_view file);

}  // namespace tessera::gguf
