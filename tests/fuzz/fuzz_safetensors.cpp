// libFuzzer target: the strict safetensors parser on arbitrary bytes. Any
// input must either parse, with every tensor inside the buffer, tiling the
// data section and sized shape x dtype, or fail with TESSERA_ERR_FORMAT;
// anything else (crash, ASan/UBSan report, another status) is a finding.
#include <cstdint>
#include <cstdlib>

#include "safetensors.hpp"
#include "tessera/cpp/plugin.hpp"

namespace {

volatile uint8_t g_sink;

// Reads the first and last byte of [p, p + n): ASan flags any escape.
void touch(const uint8_t* p, uint64_t n) {
  if (n == 0) return;
  g_sink = static_cast<uint8_t>(p[0] ^ p[n - 1]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera::gptq;
  try {
    const StContents c = parse_safetensors(data, size, "fuzz.safetensors");
    if (c.data_offset > size) std::abort();
    uint64_t covered = 0;
    for (const StTensor& t : c.tensors) {
      if (t.end < t.begin || t.end > size - c.data_offset) std::abort();
      if (t.data != data + c.data_offset + t.begin) std::abort();
      if (t.element_count() * st_dtype_size(t.dtype) != t.n_bytes()) std::abort();
      covered += t.n_bytes();
      touch(t.data, t.n_bytes());
    }
    if (covered != size - c.data_offset) std::abort();  // tiling: no overlaps, no holes
  } catch (const tessera::sdk::Error& e) {
    if (e.code() != TESSERA_ERR_FORMAT) std::abort();
  }
  return 0;
}
