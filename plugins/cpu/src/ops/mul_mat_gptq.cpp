// MUL_MAT with a GPTQ weight (tessera/gptq.h), the scalar reference: each
// task dequantizes a chunk of output columns through the SDK's reference
// (tessera/quant/gptq.hpp) into float rows in the original input order and
// sums every dot product in double, like the reference for the other types.
#include <algorithm>
#include <vector>

#include "ops.hpp"
#include "tessera/quant/gptq.hpp"

namespace tessera::cpu {

namespace {
constexpr int64_t kColumnsPerTask = 16;  // 16 adjacent qweight words per packed row: one cache line
}

void mul_mat_gptq_reference(const MatMulJob& job, ThreadPool& pool) {
  const quant::GptqView v = quant::gptq_view(job.w);
  const auto k = static_cast<int64_t>(v.k), m_count = static_cast<int64_t>(v.n);
  pool.run((m_count + kColumnsPerTask - 1) / kColumnsPerTask, [&](int64_t begin, int64_t end, int) {
    std::vector<float> rows(static_cast<size_t>(kColumnsPerTask * k));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t m0 = t * kColumnsPerTask;
      const int64_t count = std::min(kColumnsPerTask, m_count - m0);
      for (int64_t c = 0; c < count; ++c)
        quant::gptq_dequantize_column(v, static_cast<uint64_t>(m0 + c), rows.data() + c * k);
      for (int64_t c3 = 0; c3 < job.c3; ++c3)
        for (int64_t c2 = 0; c2 < job.c2; ++c2)
          for (int64_t n = 0; n < job.n; ++n) {
            const auto* x = reinterpret_cast<const float*>(job.x + static_cast<uint64_t>(n) * job.x_nb1 +
                                                           static_cast<uint64_t>(c2) * job.x_nb2 +
                                                           static_cast<uint64_t>(c3) * job.x_nb3);
            std::byte* d = job.dst + static_cast<uint64_t>(n) * job.d_nb1 + static_cast<uint64_t>(c2) * job.d_nb2 +
                           static_cast<uint64_t>(c3) * job.d_nb3;
            for (int64_t c = 0; c < count; ++c) {
              const float* w = rows.data() + c * k;
              double sum = 0;
              for (int64_t i = 0; i < k; ++i) sum += static_cast<double>(w[i]) * x[i];
              *reinterpret_cast<float*>(d + static_cast<uint64_t>(m0 + c) * job.d_nb0) = static_cast<float>(sum);
            }
          }
    }
  });
}

}  // namespace tessera::cpu
