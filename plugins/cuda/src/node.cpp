#include "node.hpp"

#include <cstring>
#include <vector>

#include "backend.hpp"
#include "cuda_check.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::cuda {

Tensor Node::resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const {
  Tensor out;
  const tessera_dtype_traits traits = check_header(t, role, dtypes, out);
  if (t->buffer->magic != kBufferMagic) fail(out.label + " lies in a buffer that is not a cuda buffer");
  const tessera_buffer& buffer = *t->buffer;
  if (buffer.device != backend_.device)
    fail(out.label + " lies in a buffer on GPU " + std::to_string(buffer.device) + ", but this backend runs on GPU " +
         std::to_string(backend_.device));
  // Another backend's buffer on the same GPU would be used from two streams
  // unordered, and freeing it would not drop this backend's captured graphs.
  if (buffer.backend != &backend_)
    fail(out.label + " lies in a buffer of another cuda backend (" +
         (buffer.backend == nullptr ? std::string("one already freed") : "another pipeline entry on this GPU") +
         "); a backend runs only on buffers it allocated");
  if (quant::gptq_bits_of(t->dtype) != 0) return resolve_gptq(*t, std::move(out));
  check_extent(*t, traits, buffer.size, sdk::OffsetAlignment::word, out);
  out.buffer = t->buffer;
  out.offset = t->offset;
  out.data = buffer.data + t->offset;
  return out;
}

// A GPTQ tensor is one header-described blob (tessera/gptq.h). Its layout is
// checked with the SDK's gptq_check on a host copy the first time a node
// uses it (once per weight: the copy is not repeated until the buffer is
// written again), so the kernels can trust the header's sections.
Tensor Node::resolve_gptq(const tessera_tensor& t, Tensor out) const {
  tessera_buffer& buffer = *t.buffer;
  check_gptq_placement(t, buffer.size, out);
  uint64_t total = 0;
  for (const auto& [offset, bytes] : buffer.gptq_checked)
    if (offset == t.offset) total = bytes;
  if (total == 0) {
    const uint64_t available = buffer.size - t.offset;
    tessera_gptq_header h{};
    if (available < sizeof h)
      fail(out.label + " (" + dtype_text(t.dtype) + "): holds " + std::to_string(available) +
           " bytes, less than the GPTQ header");
    DeviceGuard guard(buffer.device, "graph_execute");
    cuda_check(cudaMemcpyAsync(&h, buffer.data + t.offset, sizeof h, cudaMemcpyDeviceToHost, backend_.stream),
               "cuda: " + where() + ": reading the GPTQ header of " + out.label);
    cuda_check(cudaStreamSynchronize(backend_.stream), "cuda: " + where() + ": cudaStreamSynchronize");
    // The header's own size, bounded by the buffer; gptq_check says what is wrong with either.
    const uint64_t image = std::max<uint64_t>(sizeof h, std::min(h.total_bytes, available));
    std::vector<uint8_t> host(static_cast<size_t>(image));
    cuda_check(cudaMemcpyAsync(host.data(), buffer.data + t.offset, host.size(), cudaMemcpyDeviceToHost, backend_.stream),
               "cuda: " + where() + ": reading " + out.label);
    cuda_check(cudaStreamSynchronize(backend_.stream), "cuda: " + where() + ": cudaStreamSynchronize");
    const std::string problem = quant::gptq_check(host.data(), available, t.dtype, out.ne[0], out.ne[1]);
    if (!problem.empty()) fail(out.label + " (" + dtype_text(t.dtype) + "): " + problem);
    total = h.total_bytes;
    buffer.gptq_checked.emplace_back(t.offset, total);
  }
  out.element_size = 1;
  out.buffer = t.buffer;
  out.offset = t.offset;
  out.data = buffer.data + t.offset;
  out.extent = total;
  for (uint64_t& stride : out.nb) stride = 0;
  return out;
}

}  // namespace tessera::cuda
