// COPY: dst = convert(src0) between F32 and F16 (e.g. into an F16 KV cache),
// or F32/F16 -> Q8_0 rows (a Q8_0 KV cache; quantized with the SDK's
// reference quantizer, which rounds like ggml's). Element counts must match;
// the shapes may differ for float destinations, in which case elements are
// matched in logical order (ne[0] fastest), like a reshape.
#include <string>

#include <vector>

#include "../convert.hpp"
#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"
#include "tessera/quant/quantize.hpp"

namespace tessera::cpu {

void op_copy(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const auto checked = sdk::check_copy(node, src0_dtypes);
  const Tensor &src = checked.src, &dst = checked.dst;
  bool same_shape = true;
  for (int i = 0; i < 4; ++i) same_shape = same_shape && src.ne[i] == dst.ne[i];
  const bool quantized = dst.dtype == TESSERA_DTYPE_Q8_0;
  if (quantized && !same_shape)
    node.fail(dst.label + " is Q8_0 with shape " + shape_text(dst.ne) + ", expected the shape of src0 " +
              shape_text(src.ne) + " (quantized copies go row by row)");
  if (quantized) node.expect_contiguous_rows(src);
  if (pool == nullptr) return;

  const int64_t k = src.ne[0];
  if (quantized) {
    pool->run(src.rows(), [&](int64_t begin, int64_t end, int) {
      std::vector<float> values(static_cast<size_t>(k));
      for (int64_t r = begin; r < end; ++r) {
        row_to_float(src.row(r), src.dtype, values.data(), k);
        quant::quantize_row(TESSERA_DTYPE_Q8_0, values.data(), dst.row(r), k);
      }
    });
    return;
  }
  pool->run(src.rows(), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const std::byte* in = src.row(r);
      if (same_shape) {
        std::byte* out = dst.row(r);
        for (int64_t i = 0; i < k; ++i)
          store_float(out + static_cast<uint64_t>(i) * dst.nb[0], dst.dtype,
                      load_float(in + static_cast<uint64_t>(i) * src.nb[0], src.dtype));
        continue;
      }
      for (int64_t i = 0; i < k; ++i) {
        int64_t flat = r * k + i, d[4];
        for (int j = 0; j < 4; ++j) {
          d[j] = flat % dst.ne[j];
          flat /= dst.ne[j];
        }
        store_float(dst.at(d[0], d[1], d[2], d[3]), dst.dtype,
                    load_float(in + static_cast<uint64_t>(i) * src.nb[0], src.dtype));
      }
    }
  });
}

}  // namespace tessera::cpu
