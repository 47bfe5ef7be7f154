// ROPE, llama "normal" mode: within each row of head_dim values, pairs
// (x[2i], x[2i+1]) for 2i < n_rot are rotated by the angle
// pos * freq_scale * freq_base^(-2i / n_rot); values past n_rot are copied.
// src0: F32 [head_dim x n_head x n_tokens x B]; src1: I32 positions, either
// one per token (n_tokens * B, shared by all heads) or one per row
// (n_head * n_tokens * B). i_params[0] = n_rot, f_params[0] = freq_base,
// f_params[1] = freq_scale.
#include <cmath>
#include <string>

#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {

void op_rope(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const auto checked = sdk::check_rope(node, src0_dtypes);
  const Tensor &x = checked.x, &pos = checked.pos, &dst = checked.dst;
  const bool per_row = checked.per_row;
  const int32_t n_rot = checked.n_rot;
  const float base = checked.freq_base, scale = checked.freq_scale;
  if (pool == nullptr) return;

  const auto* positions = reinterpret_cast<const int32_t*>(pos.data);
  const int64_t head_dim = x.ne[0];
  pool->run(x.rows(), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const double p = static_cast<double>(positions[per_row ? r : r / x.ne[1]]) * scale;
      const auto* in = reinterpret_cast<const float*>(x.row(r));
      auto* out = reinterpret_cast<float*>(dst.row(r));
      for (int64_t i = 0; i < n_rot; i += 2) {
        // Angles in double: at positions in the thousands a float angle
        // loses digits that cos/sin then expose.
        const double theta = p * std::pow(static_cast<double>(base), -static_cast<double>(i) / n_rot);
        const double c = std::cos(theta), s = std::sin(theta);
        const double x0 = in[i], x1 = in[i + 1];
        out[i] = static_cast<float>(x0 * c - x1 * s);
        out[i + 1] = static_cast<float>(x0 * s + x1 * c);
      }
      for (int64_t i = n_rot; i < head_dim; ++i) out[i] = in[i];
    }
  });
}

}  // namespace tessera::cpu
