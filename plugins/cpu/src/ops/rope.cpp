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

namespace tessera::cpu {

void op_rope(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool, const Kernels&) {
  const Tensor x = node.src(0, src0_dtypes);
  const Tensor pos = node.src(1, {TESSERA_DTYPE_I32});
  const Tensor dst = node.dst({TESSERA_DTYPE_F32});
  node.expect_same_shape(dst, x);
  node.expect_contiguous_rows(x);
  node.expect_contiguous_rows(dst);
  node.expect_contiguous_rows(pos);
  const int64_t tokens = x.ne[2] * x.ne[3];
  const int64_t want_pos[4] = {pos.ne[0], 1, 1, 1};
  node.expect_shape(pos, want_pos, "a 1-D list of positions");
  const bool per_row = pos.ne[0] == x.rows() && pos.ne[0] != tokens;
  if (pos.ne[0] != tokens && !per_row)
    node.fail(pos.label + " has " + std::to_string(pos.ne[0]) + " positions, expected one per token (" +
              std::to_string(tokens) + " = src0 ne[2] * ne[3]) or one per row (" + std::to_string(x.rows()) + ")");
  const int32_t n_rot = node.i_param(0);
  if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > x.ne[0])
    node.fail("i_params[0] (n_rot) is " + std::to_string(n_rot) + ", expected an even number in [2, " +
              std::to_string(x.ne[0]) + "] (src0 ne[0])");
  const float base = node.f_param(0), scale = node.f_param(1);
  if (!std::isfinite(base) || base <= 0)
    node.fail("f_params[0] (freq_base) is " + std::to_string(base) + ", expected a finite value > 0");
  if (!std::isfinite(scale) || scale <= 0)
    node.fail("f_params[1] (freq_scale) is " + std::to_string(scale) + ", expected a finite value > 0");
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
