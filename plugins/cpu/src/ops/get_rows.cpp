// GET_ROWS: dst[i, :] = float(src0[src1[i], :]), the embedding lookup.
// src0: table [K x R] (F32/F16), src1: I32 ids [N0 x N1 x N2],
// dst: F32 [K x N0 x N1 x N2].
#include <string>

#include "../convert.hpp"
#include "ops.hpp"

namespace tessera::cpu {

void op_get_rows(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const Tensor table = node.src(0, src0_dtypes);
  const Tensor ids = node.src(1, {TESSERA_DTYPE_I32});
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  const int64_t want_table[4] = {-1, -1, 1, 1};
  node.expect_shape(table, want_table, "a 2-D table of rows");
  const int64_t want_ids[4] = {-1, -1, -1, 1};
  node.expect_shape(ids, want_ids, "row ids in at most 3 dimensions");
  const int64_t want_dst[4] = {table.ne[0], ids.ne[0], ids.ne[1], ids.ne[2]};
  node.expect_shape(dst, want_dst, "ne[0] of src0, then the shape of src1");
  node.expect_contiguous_rows(table);
  node.expect_contiguous_rows(dst);
  node.expect_no_overlap(dst, table);
  node.expect_no_overlap(dst, ids);
  if (pool == nullptr) return;

  const int64_t n = ids.elements();
  auto id_at = [&](int64_t i) {
    const int64_t i0 = i % ids.ne[0], i1 = (i / ids.ne[0]) % ids.ne[1], i2 = i / (ids.ne[0] * ids.ne[1]);
    return *reinterpret_cast<const int32_t*>(ids.at(i0, i1, i2, 0));
  };
  // Every id is checked before any row is written, so a bad id leaves dst untouched.
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = id_at(i);
    if (id < 0 || id >= table.ne[1])
      node.fail(ids.label + " holds row id " + std::to_string(id) + " at index " + std::to_string(i) +
                ", outside [0, " + std::to_string(table.ne[1]) + ")");
  }
  pool->run(n, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i)
      row_to_float(table.row(id_at(i)), table.dtype, reinterpret_cast<float*>(dst.row(i)), table.ne[0]);
  });
}

}  // namespace tessera::cpu
