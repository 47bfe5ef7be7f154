// MUL_MAT: dst[n, m] = sum_k src0[m, k] * src1[n, k].
// src0: weights [K x M x B2 x B3] (any weight dtype; GPTQ: [K x M], its
// layout in its header, run by mul_mat_gptq.cpp or simd/); src1: activations F32
// [K x N x C2 x C3] with C2 % B2 == 0 and C3 % B3 == 0 (a weight batch is
// shared by C2 / B2 consecutive activation batches, as grouped-query
// attention needs); dst: F32 [M x N x C2 x C3].
// The scalar loop here is the reference; with `kernels` resolved to a fast
// path the same validated job runs there instead (simd/).
#include <vector>

#include "../convert.hpp"
#include "ops.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::cpu {

void op_mul_mat(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels& kernels) {
  const Tensor w = node.src(0, src0_dtypes);
  const Tensor x = node.src(1, {TESSERA_DTYPE_F32});
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  const int64_t want_x[4] = {w.ne[0], -1, -1, -1};
  node.expect_shape(x, want_x, "ne[0] must equal src0 ne[0], the inner dimension K");
  for (int i = 2; i < 4; ++i)
    if (w.ne[i] == 0 ? x.ne[i] != 0 : x.ne[i] % w.ne[i] != 0)
      node.fail(x.label + " has shape " + shape_text(x.ne) + ": its batch sizes must be multiples of src0's " +
                shape_text(w.ne));
  const int64_t want_dst[4] = {w.ne[1], x.ne[1], x.ne[2], x.ne[3]};
  node.expect_shape(dst, want_dst, "[src0 ne[1], src1 ne[1], src1 ne[2], src1 ne[3]]");
  // GPTQ: one header-described blob (checked when resolved), no rows.
  const bool gptq = quant::gptq_bits_of(w.dtype) != 0;
  if (!gptq) node.expect_contiguous_rows(w);
  node.expect_contiguous_rows(x);
  node.expect_no_overlap(dst, w);
  node.expect_no_overlap(dst, x);
  if (pool == nullptr) return;

  const int64_t k = w.ne[0], m_count = w.ne[1], n_count = x.ne[1];
  const int64_t r2 = w.ne[2] > 0 ? x.ne[2] / w.ne[2] : 1, r3 = w.ne[3] > 0 ? x.ne[3] / w.ne[3] : 1;
  const MatMulFn fast = mul_mat_kernel(kernels, w.dtype);
  if (fast != nullptr || gptq) {
    MatMulJob job;
    job.dtype = w.dtype;
    job.k = k;
    job.m = m_count;
    job.n = n_count;
    job.c2 = x.ne[2];
    job.c3 = x.ne[3];
    job.r2 = r2;
    job.r3 = r3;
    job.w = w.data;
    job.w_nb1 = w.nb[1];
    job.w_nb2 = w.nb[2];
    job.w_nb3 = w.nb[3];
    job.x = x.data;
    job.x_nb1 = x.nb[1];
    job.x_nb2 = x.nb[2];
    job.x_nb3 = x.nb[3];
    job.dst = dst.data;
    job.d_nb0 = dst.nb[0];
    job.d_nb1 = dst.nb[1];
    job.d_nb2 = dst.nb[2];
    job.d_nb3 = dst.nb[3];
    if (fast != nullptr)
      fast(job, *pool);
    else
      mul_mat_gptq_reference(job, *pool);  // GPTQ has no row-wise path below
    return;
  }
  // One task per (output feature m, activation batch): each weight row is
  // converted once and reused for all N activation rows, and every dst
  // element is summed by one thread in one order (deterministic results).
  pool->run(m_count * x.ne[2] * x.ne[3], [&](int64_t begin, int64_t end, int) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t m = t % m_count, c2 = (t / m_count) % x.ne[2], c3 = t / (m_count * x.ne[2]);
      row_to_float(w.at(0, m, c2 / r2, c3 / r3), w.dtype, row.data(), k);
      for (int64_t n = 0; n < n_count; ++n) {
        const auto* a = reinterpret_cast<const float*>(x.at(0, n, c2, c3));
        double sum = 0;  // double: this path is the accuracy reference
        for (int64_t i = 0; i < k; ++i) sum += static_cast<double>(row[static_cast<size_t>(i)]) * a[i];
        *reinterpret_cast<float*>(dst.at(m, n, c2, c3)) = static_cast<float>(sum);
      }
    }
  });
}

}  // namespace tessera::cpu
