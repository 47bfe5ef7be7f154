#include "node.hpp"

#include <cstring>

#include "buffer.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::cpu {

Tensor Node::resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const {
  Tensor out;
  const tessera_dtype_traits traits = check_header(t, role, dtypes, out);
  if (t->buffer->magic != kBufferMagic) fail(out.label + " lies in a buffer that is not a cpu buffer");
  const tessera_buffer& buffer = *t->buffer;
  if (buffer.wrapped && role == "dst")
    fail(out.label + " lies in a read-only buffer (the caller's host memory, wrapped by buffer_wrap_host); an op "
                     "cannot write its output there");
  if (quant::gptq_bits_of(t->dtype) != 0) return resolve_gptq(*t, std::move(out));
  check_extent(*t, traits, buffer.size, sdk::OffsetAlignment::element, out);
  out.data = buffer.data + t->offset;
  return out;
}

// A GPTQ tensor is one header-described blob: its size and sections come
// from the header, checked here once so ops can trust them.
Tensor Node::resolve_gptq(const tessera_tensor& t, Tensor out) const {
  const tessera_buffer& buffer = *t.buffer;
  check_gptq_placement(t, buffer.size, out);
  const std::string problem =
      quant::gptq_check(buffer.data + t.offset, buffer.size - t.offset, t.dtype, out.ne[0], out.ne[1]);
  if (!problem.empty()) fail(out.label + " (" + dtype_text(t.dtype) + "): " + problem);
  tessera_gptq_header h;
  std::memcpy(&h, buffer.data + t.offset, sizeof h);
  out.element_size = 1;
  out.data = buffer.data + t.offset;
  out.extent = h.total_bytes;
  for (uint64_t& stride : out.nb) stride = 0;
  return out;
}

}  // namespace tessera::cpu
