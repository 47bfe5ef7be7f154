#include "tensor_geometry.hpp"

#include <string>

#include "gguf_reader.hpp"
#include "tessera/cpp/plugin.hpp"

namespace tessera::gguf {

namespace {

[[noreturn]] void fail(std::string_view file, const TensorRecord& t, const std::string& message) {
  throw sdk::Error(TESSERA_ERR_FORMAT, std::string(file) + ": tensor '" + t.name + "': " + message);
}

std::string dims_text(const TensorRecord& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.dims[d]);
  return s + "]";
}

}  // namespace

void compute_tensor_bytes(TensorRecord& t, std::string_view file) {
  // Ids >= 1000 are tessera's own layouts, never GGML type ids.
  const tessera_dtype_traits traits =
      t.dtype >= 0 && t.dtype < TESSERA_DTYPE_GPTQ_4BIT ? tessera_dtype_info(t.dtype) : tessera_dtype_traits{};
  if (traits.block_elements == 0 || traits.block_bytes == 0)
    fail(file, t, traits.name != nullptr
                      ? "ggml type " + std::string(traits.name) + " (id " + std::to_string(t.dtype) +
                            ") is not supported by tessera (no block layout for it)"
                      : "unknown ggml type id " + std::to_string(static_cast<uint32_t>(t.dtype)) +
                            ", expected a type with a known block layout (F32, F16, Q4_0, ..., BF16)");

  // ggml keeps dims as int64; the element count must fit as well.
  uint64_t elements = 1;
  for (uint32_t d = 0; d < t.n_dims; ++d) {
    if (t.dims[d] > static_cast<uint64_t>(INT64_MAX))
      fail(file, t, "dims[" + std::to_string(d) + "] = " + std::to_string(t.dims[d]) +
                        " exceeds the int64 range ggml uses");
    if (t.dims[d] != 0 && elements > UINT64_MAX / t.dims[d])
      fail(file, t, "dims " + dims_text(t) + ": the element count overflows 64 bits");
    elements *= t.dims[d];
  }
  if (t.dims[0] % traits.block_elements != 0)
    fail(file, t, "dims[0] = " + std::to_string(t.dims[0]) + " is not a multiple of the " + traits.name +
                      " block size " + std::to_string(traits.block_elements));

  uint64_t bytes = t.dims[0] / traits.block_elements;
  if (bytes != 0 && traits.block_bytes > UINT64_MAX / bytes)
    fail(file, t, "dims " + dims_text(t) + ": the byte size overflows 64 bits");
  bytes *= traits.block_bytes;
  for (uint32_t d = 1; d < t.n_dims; ++d) {
    if (t.dims[d] != 0 && bytes > UINT64_MAX / t.dims[d])
      fail(file, t, "dims " + dims_text(t) + ": the byte size overflows 64 bits");
    bytes *= t.dims[d];
  }
  t.n_bytes = bytes;
}

}  // namespace tessera::gguf
