// GET_ROWS: dst[i, :] = float(src0[src1[i], :]), the embedding lookup.
// src0: table [K x R] (F32/F16), src1: I32 ids [N0 x N1 x N2],
// dst: F32 [K x N0 x N1 x N2].
#include <string>

#include "../convert.hpp"
#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {

void op_get_rows(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const auto checked = sdk::check_get_rows(node, src0_dtypes);
  const Tensor &table = checked.table, &ids = checked.ids, &dst = checked.dst;
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
