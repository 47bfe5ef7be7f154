// tessera/cpp/tensor_check.hpp - optional header-only helper for compute
// plugins: the checks a backend runs on each tessera_node and tessera_tensor
// before it trusts them. Shared so every backend refuses the same malformed
// graphs with the same words; a backend adds only what is its own (whose
// buffer a tensor lies in, how it reads a GPTQ blob).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "tessera/cpp/plugin.hpp"
#include "tessera/tessera.h"

namespace tessera::sdk {

// Name of a dtype id for messages ("F16", or "dtype 77" when unknown).
inline std::string dtype_text(int32_t dtype) {
  const char* name = tessera_dtype_info(dtype).name;
  return name != nullptr ? std::string(name) : "dtype " + std::to_string(dtype);
}

// "[4096, 32, 1, 1]"; a negative size (an expected shape's "any size") prints as `any`.
inline std::string shape_text(const int64_t ne[4], const char* any = "*") {
  std::string s = "[";
  for (int i = 0; i < 4; ++i) {
    if (i > 0) s += ", ";
    s += ne[i] < 0 ? std::string(any) : std::to_string(ne[i]);
  }
  return s + "]";
}

// What a tensor's byte offset must be a multiple of.
enum class OffsetAlignment {
  element,  // the element (block) size: host code takes typed pointers
  word,     // plain types: the element size; block types: the largest of
            // 4, 2, 1 dividing the block size (device kernels load words)
};

// How a backend words its node errors, so each keeps the messages it had.
struct NodeWording {
  const char* prefix = "";     // before "op (graph node N): ", e.g. "cuda: "
  const char* any_size = "*";  // an expected shape's "any size"
};

// One graph node as an op sees it. `Derived` resolves tensors with
//   Tensor resolve(const tessera_tensor*, const std::string& role, std::span<const int32_t> dtypes) const
// built from check_header / check_gptq_placement / check_extent plus its own
// buffer checks. `Tensor` has label, dtype, ne, nb, element_size, extent,
// rows_contiguous() and overlaps().
template <class Derived, class Tensor>
class CheckedNode {
 public:
  using TensorType = Tensor;

  CheckedNode(const tessera_node& node, uint64_t index, NodeWording wording = {})
      : node_(node), index_(index), wording_(wording) {}

  int32_t op() const { return node_.op; }
  const char* op_name() const {
    const char* name = tessera_op_name(node_.op);
    return name != nullptr ? name : "unknown op";
  }
  const tessera_node& raw() const { return node_; }

  // "mul_mat (graph node 3)"
  std::string where() const { return std::string(op_name()) + " (graph node " + std::to_string(index_) + ")"; }

  // Throws Error(INVALID_ARGUMENT) naming the node.
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(TESSERA_ERR_INVALID_ARGUMENT, wording_.prefix + where() + ": " + message);
  }

  // Resolves the destination / source `slot`, its dtype one of `dtypes`.
  Tensor dst(std::span<const int32_t> dtypes) const { return derived().resolve(node_.dst, "dst", dtypes); }
  Tensor src(int slot, std::span<const int32_t> dtypes) const {
    return derived().resolve(node_.src[slot], "src" + std::to_string(slot), dtypes);
  }
  Tensor dst(std::initializer_list<int32_t> dtypes) const { return dst(std::span(dtypes.begin(), dtypes.size())); }
  Tensor src(int slot, std::initializer_list<int32_t> dtypes) const {
    return src(slot, std::span(dtypes.begin(), dtypes.size()));
  }
  bool has_src(int slot) const { return node_.src[slot] != nullptr; }

  float f_param(int i) const { return node_.f_params[i]; }
  int32_t i_param(int i) const { return node_.i_params[i]; }

  // Fails unless t.ne matches `want` (-1 = any size), explaining `why`.
  void expect_shape(const Tensor& t, const int64_t want[4], const std::string& why) const {
    for (int i = 0; i < 4; ++i)
      if (want[i] >= 0 && t.ne[i] != want[i])
        fail(t.label + " has shape " + shape_text(t.ne) + ", expected " + shape_text(want, wording_.any_size) +
             (why.empty() ? "" : " (" + why + ")"));
  }
  void expect_same_shape(const Tensor& t, const Tensor& like) const {
    const std::string other = like.label.substr(0, like.label.find(' '));
    expect_shape(t, like.ne, "the shape of " + other);
  }
  // Fails unless t.nb[0] is the element size (ops walk rows linearly).
  void expect_contiguous_rows(const Tensor& t) const {
    if (!t.rows_contiguous())
      fail(t.label + " has nb[0] = " + std::to_string(t.nb[0]) + ", expected the element size " +
           std::to_string(t.element_size) + " (rows must be contiguous)");
  }
  // Fails unless each t.ne[i] divides big.ne[i] (broadcast by repetition).
  void expect_broadcastable(const Tensor& t, const Tensor& big) const {
    for (int i = 0; i < 4; ++i)
      if (t.ne[i] == 0 ? big.ne[i] != 0 : big.ne[i] % t.ne[i] != 0)
        fail(t.label + " has shape " + shape_text(t.ne) + ", which does not broadcast to " + shape_text(big.ne) +
             " (each size must divide the other's, e.g. 1)");
  }
  void expect_no_overlap(const Tensor& dst, const Tensor& src) const {
    if (dst.overlaps(src)) fail(dst.label + " overlaps " + src.label + " in memory; this op cannot run in place");
  }

 protected:
  // What a tensor says about itself: struct_size, dtype in `dtypes`, n_dims,
  // sizes, and that it names a buffer. Fills label, dtype, element_size
  // (one block for quantized types), ne and nb; returns the dtype's traits.
  tessera_dtype_traits check_header(const tessera_tensor* t, const std::string& role, std::span<const int32_t> dtypes,
                                    Tensor& out) const {
    if (t == nullptr) fail(role + " is NULL");
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
        // Unused dimensions must be 1 (or left 0): anything else is a caller bug.
        fail(out.label + " has n_dims " + std::to_string(t->n_dims) + " but ne[" + std::to_string(i) +
             "] = " + std::to_string(t->ne[i]));
      }
    }
    // Element counts must fit int64: a zero stride lets a huge shape pass the
    // byte-extent check.
    int64_t count = 1;
    for (int i = 0; i < 4; ++i)
      if (__builtin_mul_overflow(count, out.ne[i], &count))
        fail(out.label + " has shape " + shape_text(out.ne) + ", more than 2^63 elements");
    if (t->buffer == nullptr) fail(out.label + " is not placed in a buffer");
    return traits;
  }

  // A GPTQ tensor is one header-described blob: 2-D, starting inside its
  // buffer of `buffer_size` bytes, 64-byte aligned like the layout's sections
  // so kernels read typed words. The backend then checks the header itself.
  void check_gptq_placement(const tessera_tensor& t, uint64_t buffer_size, const Tensor& out) const {
    if (out.ne[2] != 1 || out.ne[3] != 1)
      fail(out.label + " has shape " + shape_text(out.ne) + ", expected a 2-D GPTQ weight [in_features, out_features]");
    if (t.offset > buffer_size)
      fail(out.label + " has offset " + std::to_string(t.offset) + ", past the end of its buffer of " +
           std::to_string(buffer_size) + " bytes");
    if (t.offset % 64 != 0) fail(out.label + " has offset " + std::to_string(t.offset) + ", expected a multiple of 64");
  }

  // Any other tensor: block layout, every element inside the buffer of
  // `buffer_size` bytes (overflow-checked), aligned offset and strides.
  // Sets out.extent, the bytes from the first element to past the last.
  void check_extent(const tessera_tensor& t, const tessera_dtype_traits& traits, uint64_t buffer_size,
                    OffsetAlignment alignment, Tensor& out) const {
    // Block types: ne[0] counts values, nb[0] strides blocks, rows are packed.
    if (traits.block_elements > 1) {
      if (out.ne[0] % traits.block_elements != 0)
        fail(out.label + " has ne[0] = " + std::to_string(out.ne[0]) + ", expected a multiple of the " +
             dtype_text(t.dtype) + " block size " + std::to_string(traits.block_elements));
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
    if (overflow || t.offset > buffer_size || extent > buffer_size - t.offset)
      fail(out.label + " with shape " + shape_text(out.ne) + " at offset " + std::to_string(t.offset) +
           (overflow ? " spans more than 2^64 bytes" : " needs " + std::to_string(extent) + " bytes") +
           ", past the end of its buffer of " + std::to_string(buffer_size) + " bytes");
    // Element-aligned addresses and strides let ops use typed pointers and
    // loads without unaligned-access tricks.
    if (alignment == OffsetAlignment::element) {
      if (t.offset % out.element_size != 0)
        fail(out.label + " has offset " + std::to_string(t.offset) + ", expected a multiple of its element size " +
             std::to_string(out.element_size));
    } else {
      const uint64_t word = out.element_size % 4 == 0 ? 4 : (out.element_size % 2 == 0 ? 2 : 1);
      if (t.offset % word != 0 || (traits.block_elements == 1 && t.offset % out.element_size != 0))
        fail(out.label + " has offset " + std::to_string(t.offset) + ", expected a multiple of " +
             std::to_string(traits.block_elements == 1 ? out.element_size : word));
    }
    for (int i = 0; i < 4; ++i)
      if (out.nb[i] % out.element_size != 0)
        fail(out.label + " has nb[" + std::to_string(i) + "] = " + std::to_string(out.nb[i]) +
             ", expected a multiple of its element size " + std::to_string(out.element_size));
    out.extent = extent;
  }

 private:
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  const tessera_node& node_;
  uint64_t index_;
  NodeWording wording_;
};

}  // namespace tessera::sdk
