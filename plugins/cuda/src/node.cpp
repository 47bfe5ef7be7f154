#include "node.hpp"

#include <cstring>
#include <vector>

#include "backend.hpp"
#include "cuda_check.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::cuda {

const char* Node::op_name() const {
  const char* name = tessera_op_name(node_.op);
  return name != nullptr ? name : "unknown op";
}

std::string Node::where() const { return std::string(op_name()) + " (graph node " + std::to_string(index_) + ")"; }

void Node::fail(const std::string& message) const {
  throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "cuda: " + where() + ": " + message);
}

Tensor Node::dst(std::span<const int32_t> dtypes) const { return resolve(node_.dst, "dst", dtypes); }

Tensor Node::src(int slot, std::span<const int32_t> dtypes) const {
  return resolve(node_.src[slot], "src" + std::to_string(slot), dtypes);
}

Tensor Node::resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const {
  if (t == nullptr) fail(role + " is NULL");
  Tensor out;
  const bool named = t->struct_size >= TESSERA_SIZE_THROUGH(tessera_tensor, name) && t->name != nullptr;
  out.label = role + " '" + (named ? std::string(t->name) : std::string("unnamed")) + "'";
  if (t->struct_size < TESSERA_SIZE_THROUGH(tessera_tensor, name))
    fail(out.label + " has struct_size " + std::to_string(t->struct_size) + ", expected at least " +
         std::to_string(TESSERA_SIZE_THROUGH(tessera_tensor, name)));
  bool allowed = false;
  std::string allowed_text;
  for (int32_t d : dtypes) {
    allowed = allowed || d == t->dtype;
    allowed_text += (allowed_text.empty() ? "" : " or ") + dtype_text(d);
  }
  if (!allowed) fail(out.label + " has dtype " + dtype_text(t->dtype) + ", expected " + allowed_text);
  out.dtype = t->dtype;
  const tessera_dtype_traits traits = tessera_dtype_info(t->dtype);
  out.element_size = traits.block_bytes;
  if (t->n_dims < 1 || t->n_dims > 4) fail(out.label + " has n_dims " + std::to_string(t->n_dims) + ", expected 1..4");
  for (uint32_t i = 0; i < 4; ++i) {
    if (i < t->n_dims) {
      if (t->ne[i] < 0)
        fail(out.label + " has negative size ne[" + std::to_string(i) + "] = " + std::to_string(t->ne[i]));
      out.ne[i] = t->ne[i];
      out.nb[i] = t->nb[i];
    } else if (t->ne[i] != 0 && t->ne[i] != 1) {
      fail(out.label + " has n_dims " + std::to_string(t->n_dims) + " but ne[" + std::to_string(i) +
           "] = " + std::to_string(t->ne[i]));
    }
  }
  int64_t count = 1;
  for (int i = 0; i < 4; ++i)
    if (__builtin_mul_overflow(count, out.ne[i], &count))
      fail(out.label + " has shape " + shape_text(out.ne) + ", more than 2^63 elements");
  if (t->buffer == nullptr) fail(out.label + " is not placed in a buffer");
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
  if (traits.block_elements > 1) {
    if (out.ne[0] % traits.block_elements != 0)
      fail(out.label + " has ne[0] = " + std::to_string(out.ne[0]) + ", expected a multiple of the " +
           dtype_text(t->dtype) + " block size " + std::to_string(traits.block_elements));
    if (out.nb[0] != traits.block_bytes)
      fail(out.label + " has nb[0] = " + std::to_string(out.nb[0]) + ", expected the block size " +
           std::to_string(traits.block_bytes) + " bytes");
  }
  const int64_t blocks0 = traits.block_elements > 1 ? out.ne[0] / traits.block_elements : out.ne[0];
  uint64_t extent = 0;
  bool empty = false, overflow = false;
  for (int i = 0; i < 4; ++i) {
    const int64_t n = i == 0 ? blocks0 : out.ne[i];
    if (n == 0) empty = true;
    uint64_t span = 0;
    overflow |= __builtin_mul_overflow(static_cast<uint64_t>(n > 0 ? n - 1 : 0), out.nb[i], &span);
    overflow |= __builtin_add_overflow(extent, span, &extent);
  }
  overflow |= __builtin_add_overflow(extent, out.element_size, &extent);
  if (empty) extent = 0;
  if (overflow || t->offset > buffer.size || extent > buffer.size - t->offset)
    fail(out.label + " with shape " + shape_text(out.ne) + " at offset " + std::to_string(t->offset) +
         (overflow ? " spans more than 2^64 bytes" : " needs " + std::to_string(extent) + " bytes") +
         ", past the end of its buffer of " + std::to_string(buffer.size) + " bytes");
  // Element-aligned addresses and strides: kernels use typed loads.
  const uint64_t align = out.element_size % 4 == 0 ? 4 : (out.element_size % 2 == 0 ? 2 : 1);
  if (t->offset % align != 0 || (traits.block_elements == 1 && t->offset % out.element_size != 0))
    fail(out.label + " has offset " + std::to_string(t->offset) + ", expected a multiple of " +
         std::to_string(traits.block_elements == 1 ? out.element_size : align));
  for (int i = 0; i < 4; ++i)
    if (out.nb[i] % out.element_size != 0)
      fail(out.label + " has nb[" + std::to_string(i) + "] = " + std::to_string(out.nb[i]) +
           ", expected a multiple of its element size " + std::to_string(out.element_size));
  out.buffer = t->buffer;
  out.offset = t->offset;
  out.data = buffer.data + t->offset;
  out.extent = extent;
  return out;
}

// A GPTQ tensor is one header-described blob (tessera/gptq.h). Its layout is
// checked with the SDK's gptq_check on a host copy the first time a node
// uses it (once per weight: the copy is not repeated until the buffer is
// written again), so the kernels can trust the header's sections.
Tensor Node::resolve_gptq(const tessera_tensor& t, Tensor out) const {
  if (out.ne[2] != 1 || out.ne[3] != 1)
    fail(out.label + " has shape " + shape_text(out.ne) + ", expected a 2-D GPTQ weight [in_features, out_features]");
  tessera_buffer& buffer = *t.buffer;
  if (t.offset > buffer.size)
    fail(out.label + " has offset " + std::to_string(t.offset) + ", past the end of its buffer of " +
         std::to_string(buffer.size) + " bytes");
  if (t.offset % 64 != 0) fail(out.label + " has offset " + std::to_string(t.offset) + ", expected a multiple of 64");
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

void Node::expect_shape(const Tensor& t, const int64_t want[4], const std::string& why) const {
  for (int i = 0; i < 4; ++i)
    if (want[i] >= 0 && t.ne[i] != want[i])
      fail(t.label + " has shape " + shape_text(t.ne) + ", expected " + shape_text(want) +
           (why.empty() ? "" : " (" + why + ")"));
}

void Node::expect_same_shape(const Tensor& t, const Tensor& like) const {
  const std::string other = like.label.substr(0, like.label.find(' '));
  expect_shape(t, like.ne, "the shape of " + other);
}

void Node::expect_contiguous_rows(const Tensor& t) const {
  if (!t.rows_contiguous())
    fail(t.label + " has nb[0] = " + std::to_string(t.nb[0]) + ", expected the element size " +
         std::to_string(t.element_size) + " (rows must be contiguous)");
}

void Node::expect_broadcastable(const Tensor& t, const Tensor& big) const {
  for (int i = 0; i < 4; ++i)
    if (t.ne[i] == 0 ? big.ne[i] != 0 : big.ne[i] % t.ne[i] != 0)
      fail(t.label + " has shape " + shape_text(t.ne) + ", which does not broadcast to " + shape_text(big.ne) +
           " (each size must divide the other's, e.g. 1)");
}

void Node::expect_no_overlap(const Tensor& dst, const Tensor& src) const {
  if (dst.overlaps(src)) fail(dst.label + " overlaps " + src.label + " in memory; this op cannot run in place");
}

}  // namespace tessera::cuda
