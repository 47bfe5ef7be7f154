// libFuzzer target: the GGUF parser on arbitrary bytes. Any input must either
// parse, with every tensor and array lying inside the buffer, or fail with
// TESSERA_ERR_FORMAT; anything else (crash, ASan/UBSan report, another status)
// is a finding.
#include <cstdint>
#include <cstdlib>

#include "gguf_reader.hpp"

namespace {

using tessera::gguf::GgufContents;
using tessera::gguf::Metadata;

volatile uint8_t g_sink;

// Reads the first and last byte of [p, p + n): ASan flags any escape.
void touch(const void* p, uint64_t n) {
  if (n == 0) return;
  const auto* b = static_cast<const uint8_t*>(p);
  g_sink = static_cast<uint8_t>(b[0] ^ b[n - 1]);
}

void walk(const Metadata& meta, const tessera_value& v, int depth) {
  if (depth > tessera::gguf::kMaxArrayDepth + 1) std::abort();
  if (v.type == TESSERA_VALUE_STRING) touch(v.as.s.data, v.as.s.size);
  if (v.type != TESSERA_VALUE_ARRAY) return;
  if (v.as.array.data != nullptr)
    touch(v.as.array.data, v.as.array.count * tessera::gguf::scalar_size(v.as.array.element_type));
  // Visit a bounded sample so huge arrays do not stall the fuzzer.
  const uint64_t n = v.as.array.count;
  for (uint64_t i = 0; i < n; i = i < 16 ? i + 1 : i * 2 + 1) walk(meta, meta.element(v, i), depth + 1);
  if (n > 0) walk(meta, meta.element(v, n - 1), depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const GgufContents c = tessera::gguf::parse_gguf(data, size, "fuzz.gguf");
    for (uint64_t i = 0; i < c.metadata.size(); ++i) walk(c.metadata, c.metadata.value(i), 0);
    if (c.data_offset > size || c.data_size != size - c.data_offset) std::abort();
    for (const auto& t : c.tensors) {
      if (t.offset > c.data_size || t.n_bytes > c.data_size - t.offset) std::abort();
      touch(data + c.data_offset + t.offset, t.n_bytes);
    }
  } catch (const tessera::sdk::Error& e) {
    if (e.code() != TESSERA_ERR_FORMAT) std::abort();
  }
  return 0;
}
