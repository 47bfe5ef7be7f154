#include "node.hpp"

#include <cstring>

#include "buffer.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::cpu {

const char* Node::op_name() const {
  const char* name = tessera_op_name(node_.op);
  return name != nullptr ? name : "unknown op";
}

std::string Node::where() const { return std::string(op_name()) + " (graph node " + std::to_string(index_) + ")"; }

void Node::fail(const std::string& message) const {
  throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, where() + ": " + message);
}

Tensor Node::dst(std::span<const int32_t> dtypes) const { return resolve(node_.dst, "dst", dtypes); }

Tensor Node::src(int slot, std::span<const int32_t> dtypes) const {
  return resolve(node_.src[slot], "src" + std::to_string(slot), dtypes);
}

Tensor Node::resolve(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes) const {
  if (t == nullptr) fail(role + " is NULL");
  Tensor out;
  out.label =
      role + " '" +
      (t->struct_size >= TESSERA_SIZE_THROUGH(tessera_tensor, name) && t->name != nullptr ? std::string(t->name)
                                                                                          : std::string("unnamed")) +
      "'";
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
  // For block-quantized types the "element" is one block of block_elements values.
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
      // Unused dimensions must be 1 (or left 0): anything else is a caller bug.
      fail(out.label + " has n_dims " + std::to_string(t->n_dims) + " but ne[" + std::to_string(i) +
           "] = " + std::to_string(t->ne[i]));
    }
  }
  // Element counts must fit int64: a zero stride lets a huge shape pass the
  // byte-extent check below.
  int64_t count = 1;
  for (int i = 0; i < 4; ++i)
    if (__builtin_mul_overflow(count, out.ne[i], &count))
      fail(out.label + " has shape " + shape_text(out.ne) + ", more than 2^63 elements");
  if (t->buffer == nullptr) fail(out.label + " is not placed in a buffer");
  if (t->buffer->magic != kBufferMagic) fail(out.label + " lies in a buffer that is not a cpu buffer");
  const tessera_buffer& buffer = *t->buffer;
  if (quant::gptq_bits_of(t->dtype) != 0) return resolve_gptq(*t, std::move(out));
  // Block types: ne[0] counts values, nb[0] strides blocks, rows are packed.
  if (traits.block_elements > 1) {
    if (out.ne[0] % traits.block_elements != 0)
      fail(out.label + " has ne[0] = " + std::to_string(out.ne[0]) + ", expected a multiple of the " +
           dtype_text(t->dtype) + " block size " + std::to_string(traits.block_elements));
    if (out.nb[0] != traits.block_bytes)
      fail(out.label + " has nb[0] = " + std::to_string(out.nb[0]) + ", expected the block size " +
           std::to_string(traits.block_bytes) + " bytes");
  }
  const int64_t blocks0 = traits.block_elements > 1 ? out.ne[0] / traits.block_elements : out.ne[0];
  // Byte extent: offset of the last element plus its size, overflow-checked.
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
  // Element-aligned addresses and strides let ops use typed pointers (and
  // later SIMD loads) without unaligned-access tricks.
  if (t->offset % out.element_size != 0)
    fail(out.label + " has offset " + std::to_string(t->offset) + ", expected a multiple of its element size " +
         std::to_string(out.element_size));
  for (int i = 0; i < 4; ++i)
    if (out.nb[i] % out.element_size != 0)
      fail(out.label + " has nb[" + std::to_string(i) + "] = " + std::to_string(out.nb[i]) +
           ", expected a multiple of its element size " + std::to_string(out.element_size));
  out.data = buffer.data + t->offset;
  out.extent = extent;
  return out;
}

// A GPTQ tensor is one header-described blob: its size and sections come
// from the header, checked here once so ops can trust them.
Tensor Node::resolve_gptq(const tessera_tensor& t, Tensor out) const {
  if (out.ne[2] != 1 || out.ne[3] != 1)
    fail(out.label + " has shape " + shape_text(out.ne) + ", expected a 2-D GPTQ weight [in_features, out_features]");
  const tessera_buffer& buffer = *t.buffer;
  if (t.offset > buffer.size)
    fail(out.label + " has offset " + std::to_string(t.offset) + ", past the end of its buffer of " +
         std::to_string(buffer.size) + " bytes");
  // 64-byte aligned like the layout's sections, so kernels read typed words.
  if (t.offset % 64 != 0) fail(out.label + " has offset " + std::to_string(t.offset) + ", expected a multiple of 64");
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

}  // namespace tessera::cpu
