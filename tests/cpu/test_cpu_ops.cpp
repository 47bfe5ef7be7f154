// Every op of the scalar reference path against a naive double-precision
// computation written here, on random inputs. Tolerances are stated per op
// and dtype; F16 inputs are decoded with the test's own half_value().
#include <algorithm>
#include <limits>

#include "cpu_test_support.hpp"

using namespace tessera::cpu_test;

namespace {

// Compares element-wise; tolerance(i) gives the allowed |got - want|.
template <class Tol>
void expect_close(const std::vector<float>& got, const std::vector<double>& want, Tol tolerance, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::abs(static_cast<double>(got[i]) - want[i]), tolerance(i))
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

// Exact: the op is one correctly rounded float operation (or a copy).
void expect_exact(const std::vector<float>& got, const std::vector<double>& want, const char* what) {
  expect_close(
      got, want, [&](size_t i) { return std::abs(want[i]) * 0x1p-24; }, what);
}

// Relative tolerance for ops with a transcendental or a reduction.
auto relative(const std::vector<double>& want, double rel, double abs) {
  return [&want, rel, abs](size_t i) { return rel * std::abs(want[i]) + abs; };
}

struct cpu_ops : ::testing::Test {
  Backend backend{2};
  void SetUp() override { ASSERT_EQ(backend.create_status().code, TESSERA_OK) << backend.create_status().message; }

  void run(tessera_node node) {
    Status s = backend.execute({&node});
    ASSERT_EQ(s.code, TESSERA_OK) << s.message;
  }
};

double silu(double v) { return v / (1.0 + std::exp(-v)); }

}  // namespace

// ---- GET_ROWS ---------------------------------------------------------------

TEST_F(cpu_ops, GetRowsF32GathersRows) {
  const int64_t k = 7, rows = 10;
  const auto table = random_floats(k * rows, 1);
  const std::vector<int32_t> ids = {3, 0, 9, 3, 5, 2};  // a 3 x 2 id matrix, with a repeat
  auto t = backend.tensor(TESSERA_DTYPE_F32, {k, rows}, table, "token_embd");
  auto i = backend.tensor(TESSERA_DTYPE_I32, {3, 2}, ids, "tokens");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {k, 3, 2}, nullptr, "embd");
  run(make_node(TESSERA_OP_GET_ROWS, &d, {&t, &i}));
  std::vector<double> want;
  for (int32_t id : ids)
    for (int64_t c = 0; c < k; ++c) want.push_back(table[static_cast<size_t>(id * k + c)]);
  expect_exact(backend.read<float>(d), want, "get_rows f32");
}

TEST_F(cpu_ops, GetRowsF16DecodesRows) {
  const int64_t k = 33, rows = 5;
  const auto table = random_halves(k * rows, 2);
  const std::vector<int32_t> ids = {4, 1, 1, 0};
  auto t = backend.tensor(TESSERA_DTYPE_F16, {k, rows}, table, "token_embd");
  auto i = backend.tensor(TESSERA_DTYPE_I32, {4}, ids, "tokens");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {k, 4}, nullptr, "embd");
  run(make_node(TESSERA_OP_GET_ROWS, &d, {&t, &i}));
  std::vector<double> want;
  for (int32_t id : ids)
    for (int64_t c = 0; c < k; ++c) want.push_back(half_value(table[static_cast<size_t>(id * k + c)]));
  expect_exact(backend.read<float>(d), want, "get_rows f16");  // every half is exact in float
}

// ---- RMS_NORM ---------------------------------------------------------------

TEST_F(cpu_ops, RmsNormNormalisesEachRow) {
  const int64_t k = 33, r1 = 4, r2 = 3;
  const float eps = 1e-5f;
  const auto x = random_floats(k * r1 * r2, 3, -3.0f, 3.0f);
  auto a = backend.tensor(TESSERA_DTYPE_F32, {k, r1, r2}, x, "x");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {k, r1, r2}, nullptr, "norm");
  auto node = make_node(TESSERA_OP_RMS_NORM, &d, {&a});
  node.f_params[0] = eps;
  run(node);
  std::vector<double> want(x.size());
  for (int64_t r = 0; r < r1 * r2; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < k; ++c) ss += double(x[r * k + c]) * x[r * k + c];
    const double scale = 1.0 / std::sqrt(ss / k + double(eps));
    for (int64_t c = 0; c < k; ++c) want[r * k + c] = x[r * k + c] * scale;
  }
  expect_close(backend.read<float>(d), want, relative(want, 1e-6, 1e-7), "rms_norm");  // F32: 1e-6 relative
}

// ---- MUL / ADD --------------------------------------------------------------

TEST_F(cpu_ops, MulAndAddSameShape) {
  const auto x = random_floats(5 * 6, 4), y = random_floats(5 * 6, 5);
  for (int32_t op : {TESSERA_OP_MUL, TESSERA_OP_ADD}) {
    auto a = backend.tensor(TESSERA_DTYPE_F32, {5, 6}, x, "a");
    auto b = backend.tensor(TESSERA_DTYPE_F32, {5, 6}, y, "b");
    auto d = backend.tensor(TESSERA_DTYPE_F32, {5, 6}, nullptr, "out");
    run(make_node(op, &d, {&a, &b}));
    std::vector<double> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = op == TESSERA_OP_MUL ? double(x[i]) * y[i] : double(x[i]) + y[i];
    expect_exact(backend.read<float>(d), want, tessera_op_name(op));
  }
}

TEST_F(cpu_ops, MulBroadcastsWeightOverRows) {
  const int64_t k = 9, n = 4, h = 3;
  const auto x = random_floats(k * n * h, 6), w = random_floats(k, 7);
  auto a = backend.tensor(TESSERA_DTYPE_F32, {k, n, h}, x, "x");
  auto b = backend.tensor(TESSERA_DTYPE_F32, {k}, w, "attn_norm.weight");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {k, n, h}, nullptr, "out");
  run(make_node(TESSERA_OP_MUL, &d, {&a, &b}));
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = double(x[i]) * w[i % k];
  expect_exact(backend.read<float>(d), want, "mul broadcast");
}

TEST_F(cpu_ops, AddBroadcastsOverMiddleDimensionAndRunsInPlace) {
  const int64_t k = 6, n = 5, h = 2;
  const auto x = random_floats(k * n * h, 8), y = random_floats(k * h, 9);
  auto a = backend.tensor(TESSERA_DTYPE_F32, {k, n, h}, x, "residual");
  auto b = backend.tensor(TESSERA_DTYPE_F32, {k, 1, h}, y, "bias");
  run(make_node(TESSERA_OP_ADD, &a, {&a, &b}));  // dst == src0: the residual add
  std::vector<double> want(x.size());
  for (int64_t i2 = 0; i2 < h; ++i2)
    for (int64_t i1 = 0; i1 < n; ++i1)
      for (int64_t c = 0; c < k; ++c) want[(i2 * n + i1) * k + c] = double(x[(i2 * n + i1) * k + c]) + y[i2 * k + c];
  expect_exact(backend.read<float>(a), want, "add broadcast in place");
}

// ---- MUL_MAT ----------------------------------------------------------------

namespace {

// dst[n][m] = sum_k w[m][k] * x[n][k]; w given as doubles (already decoded).
void naive_mul_mat(const std::vector<double>& w, const std::vector<float>& x, int64_t k, int64_t m_count,
                   int64_t n_count, std::vector<double>& want, std::vector<double>& magnitude) {
  want.assign(static_cast<size_t>(m_count * n_count), 0.0);
  magnitude.assign(want.size(), 0.0);
  for (int64_t n = 0; n < n_count; ++n)
    for (int64_t m = 0; m < m_count; ++m)
      for (int64_t i = 0; i < k; ++i) {
        const double p = w[static_cast<size_t>(m * k + i)] * x[static_cast<size_t>(n * k + i)];
        want[static_cast<size_t>(n * m_count + m)] += p;
        magnitude[static_cast<size_t>(n * m_count + m)] += std::abs(p);
      }
}

}  // namespace

TEST_F(cpu_ops, MulMatF32Weights) {
  const int64_t k = 67, m = 13, n = 5;
  const auto w = random_floats(k * m, 10), x = random_floats(k * n, 11);
  auto tw = backend.tensor(TESSERA_DTYPE_F32, {k, m}, w, "blk.0.ffn_up.weight");
  auto tx = backend.tensor(TESSERA_DTYPE_F32, {k, n}, x, "x");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "up");
  run(make_node(TESSERA_OP_MUL_MAT, &d, {&tw, &tx}));
  std::vector<double> want, mag;
  naive_mul_mat(std::vector<double>(w.begin(), w.end()), x, k, m, n, want, mag);
  // F32 weights: 1e-6 of the sum of |products| (cancellation-safe).
  expect_close(
      backend.read<float>(d), want, [&](size_t i) { return 1e-6 * mag[i] + 1e-30; }, "mul_mat f32");
}

TEST_F(cpu_ops, MulMatF16Weights) {
  const int64_t k = 96, m = 11, n = 3;
  const auto w = random_halves(k * m, 12);
  const auto x = random_floats(k * n, 13);
  auto tw = backend.tensor(TESSERA_DTYPE_F16, {k, m}, w, "output.weight");
  auto tx = backend.tensor(TESSERA_DTYPE_F32, {k, n}, x, "x");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "logits");
  run(make_node(TESSERA_OP_MUL_MAT, &d, {&tw, &tx}));
  std::vector<double> wd;
  for (uint16_t h : w) wd.push_back(half_value(h));
  std::vector<double> want, mag;
  naive_mul_mat(wd, x, k, m, n, want, mag);
  // F16 weights decode exactly, so the same 1e-6 relative bound holds.
  expect_close(
      backend.read<float>(d), want, [&](size_t i) { return 1e-6 * mag[i] + 1e-30; }, "mul_mat f16");
}

TEST_F(cpu_ops, MulMatBroadcastsWeightBatchesLikeGroupedQueryAttention) {
  // 2 KV heads shared by 4 query heads: query head h uses KV head h / 2.
  const int64_t k = 16, m = 6, n = 3, kv_heads = 2, q_heads = 4;
  const auto w = random_floats(k * m * kv_heads, 14), x = random_floats(k * n * q_heads, 15);
  auto tw = backend.tensor(TESSERA_DTYPE_F32, {k, m, kv_heads}, w, "k_cache");
  auto tx = backend.tensor(TESSERA_DTYPE_F32, {k, n, q_heads}, x, "q");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {m, n, q_heads}, nullptr, "kq");
  run(make_node(TESSERA_OP_MUL_MAT, &d, {&tw, &tx}));
  const auto got = backend.read<float>(d);
  for (int64_t h = 0; h < q_heads; ++h) {
    const int64_t g = h / (q_heads / kv_heads);
    std::vector<double> wh(w.begin() + g * k * m, w.begin() + (g + 1) * k * m);
    std::vector<float> xh(x.begin() + h * k * n, x.begin() + (h + 1) * k * n);
    std::vector<double> want, mag;
    naive_mul_mat(wh, xh, k, m, n, want, mag);
    std::vector<float> got_h(got.begin() + h * m * n, got.begin() + (h + 1) * m * n);
    expect_close(
        got_h, want, [&](size_t i) { return 1e-6 * mag[i] + 1e-30; }, "mul_mat batched");
  }
}

// ---- SILU / SWIGLU / SCALE --------------------------------------------------

TEST_F(cpu_ops, SiluSwigluScale) {
  const int64_t k = 17, n = 3;
  const auto x = random_floats(k * n, 16, -6.0f, 6.0f), y = random_floats(k * n, 17);
  auto a = backend.tensor(TESSERA_DTYPE_F32, {k, n}, x, "gate");
  auto b = backend.tensor(TESSERA_DTYPE_F32, {k, n}, y, "up");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {k, n}, nullptr, "out");
  std::vector<double> want(x.size());

  run(make_node(TESSERA_OP_SILU, &d, {&a}));
  for (size_t i = 0; i < x.size(); ++i) want[i] = silu(x[i]);
  expect_close(backend.read<float>(d), want, relative(want, 1e-6, 1e-7), "silu");  // expf: 1e-6 relative

  run(make_node(TESSERA_OP_SWIGLU, &d, {&a, &b}));
  for (size_t i = 0; i < x.size(); ++i) want[i] = silu(x[i]) * y[i];
  expect_close(backend.read<float>(d), want, relative(want, 1e-6, 1e-7), "swiglu");

  auto node = make_node(TESSERA_OP_SCALE, &d, {&a});
  node.f_params[0] = 0.125f;
  run(node);
  for (size_t i = 0; i < x.size(); ++i) want[i] = x[i] * 0.125;
  expect_exact(backend.read<float>(d), want, "scale");
}

// ---- SOFTMAX ----------------------------------------------------------------

namespace {

std::vector<double> naive_softmax(const std::vector<float>& x, const std::vector<float>* mask, int64_t k, int64_t rows,
                                  int64_t mask_rows, double scale) {
  std::vector<double> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> v(static_cast<size_t>(k));
    double max = -INFINITY;
    for (int64_t i = 0; i < k; ++i) {
      v[i] = x[r * k + i] * scale + (mask ? double((*mask)[(r % mask_rows) * k + i]) : 0.0);
      max = std::max(max, v[i]);
    }
    double sum = 0;
    for (auto& e : v) sum += (e = (max == -INFINITY ? 0.0 : std::exp(e - max)));
    for (int64_t i = 0; i < k; ++i) out[r * k + i] = sum > 0 ? v[i] / sum : 0.0;
  }
  return out;
}

}  // namespace

TEST_F(cpu_ops, SoftmaxWithScale) {
  const int64_t k = 10, rows = 6;
  const auto x = random_floats(k * rows, 18, -5.0f, 5.0f);
  auto a = backend.tensor(TESSERA_DTYPE_F32, {k, rows}, x, "kq");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {k, rows}, nullptr, "p");
  auto node = make_node(TESSERA_OP_SOFTMAX, &d, {&a});
  node.f_params[0] = 0.5f;
  run(node);
  const auto want = naive_softmax(x, nullptr, k, rows, 1, 0.5);
  expect_close(backend.read<float>(d), want, relative(want, 1e-6, 1e-7), "softmax");  // probabilities: 1e-6 rel
}

TEST_F(cpu_ops, SoftmaxWithCausalMaskBroadcastOverHeads) {
  const int64_t k = 5, tokens = 5, heads = 3;
  const auto x = random_floats(k * tokens * heads, 19, -3.0f, 3.0f);
  std::vector<float> mask(static_cast<size_t>(k * tokens));
  for (int64_t q = 0; q < tokens; ++q)
    for (int64_t i = 0; i < k; ++i) mask[q * k + i] = i <= q ? 0.0f : -std::numeric_limits<float>::infinity();
  mask[2 * k + 0] = mask[2 * k + 1] = mask[2 * k + 2] = -INFINITY;  // a fully masked row -> zeros
  auto a = backend.tensor(TESSERA_DTYPE_F32, {k, tokens, heads}, x, "kq");
  auto m = backend.tensor(TESSERA_DTYPE_F32, {k, tokens}, mask, "kq_mask");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {k, tokens, heads}, nullptr, "p");
  auto node = make_node(TESSERA_OP_SOFTMAX, &d, {&a, &m});
  node.f_params[0] = 1.0f;
  run(node);
  const auto got = backend.read<float>(d);
  const auto want = naive_softmax(x, &mask, k, tokens * heads, tokens, 1.0);
  expect_close(got, want, relative(want, 1e-6, 1e-7), "softmax masked");
  for (float v : got) ASSERT_FALSE(std::isnan(v));
}

// ---- COPY -------------------------------------------------------------------

TEST_F(cpu_ops, CopyF32ToF16RoundsToNearest) {
  auto x = random_floats(64, 20, -70000.0f, 70000.0f);
  x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-6f, x[3] = 65504.0f, x[4] = 1.0f / 3;  // zero, subnormal, max
  auto a = backend.tensor(TESSERA_DTYPE_F32, {16, 4}, x, "k_cur");
  auto d = backend.tensor(TESSERA_DTYPE_F16, {16, 4}, nullptr, "k_cache");
  run(make_node(TESSERA_OP_COPY, &d, {&a}));
  const auto got = backend.read<uint16_t>(d);
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i], h = half_value(got[i]);
    if (std::abs(v) >= 65520.0) {  // beyond the largest half (rounding included): infinity
      EXPECT_TRUE(std::isinf(h) && (h > 0) == (v > 0)) << v;
      continue;
    }
    // Nearest: no neighbouring half is closer (ties checked by even mantissa).
    const double err = std::abs(h - v);
    for (int delta : {-1, 1}) {
      const uint16_t n = static_cast<uint16_t>(got[i] + delta);
      if ((n & 0x7C00) == 0x7C00 || (got[i] & 0x7FFF) == 0 || (n & 0x8000) != (got[i] & 0x8000)) continue;
      const double other = std::abs(half_value(n) - v);
      EXPECT_TRUE(err < other || (err == other && (got[i] & 1) == 0)) << "x = " << v << " -> " << h;
    }
  }
}

TEST_F(cpu_ops, CopyF16ToF32AndF32ToF32AreExact) {
  const auto hx = random_halves(24, 21);
  auto a = backend.tensor(TESSERA_DTYPE_F16, {6, 4}, hx, "h");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {6, 4}, nullptr, "f");
  run(make_node(TESSERA_OP_COPY, &d, {&a}));
  std::vector<double> want;
  for (uint16_t h : hx) want.push_back(half_value(h));
  expect_exact(backend.read<float>(d), want, "copy f16->f32");

  const auto fx = random_floats(24, 22);
  auto b = backend.tensor(TESSERA_DTYPE_F32, {6, 4}, fx, "a");
  auto e = backend.tensor(TESSERA_DTYPE_F32, {4, 6}, nullptr, "reshaped");  // same count, other shape
  run(make_node(TESSERA_OP_COPY, &e, {&b}));
  expect_exact(backend.read<float>(e), std::vector<double>(fx.begin(), fx.end()), "copy f32 reshape");
}

TEST_F(cpu_ops, CopyIntoAStridedViewLikeAKvCacheSlot) {
  // Cache of 8 positions x 4 values; write 3 tokens at positions 2..4.
  const int64_t dim = 4, cache_len = 8, tokens = 3, first = 2;
  const auto x = random_floats(dim * tokens, 23);
  auto cache = backend.tensor(TESSERA_DTYPE_F32, {dim, cache_len}, std::vector<float>(dim * cache_len, 7.0f), "cache");
  tessera_tensor view = cache;
  view.ne[1] = tokens;
  view.offset = static_cast<uint64_t>(first * dim) * sizeof(float);
  view.name = "cache[2:5]";
  auto a = backend.tensor(TESSERA_DTYPE_F32, {dim, tokens}, x, "v_cur");
  run(make_node(TESSERA_OP_COPY, &view, {&a}));
  std::vector<double> want(static_cast<size_t>(dim * cache_len), 7.0);
  for (int64_t i = 0; i < dim * tokens; ++i) want[static_cast<size_t>(first * dim + i)] = x[static_cast<size_t>(i)];
  expect_exact(backend.read<float>(cache), want, "copy into view");
}

// ---- ROPE -------------------------------------------------------------------

namespace {

// Llama "normal" rope on rows of `dim`; positions[r] for row r.
std::vector<double> naive_rope(const std::vector<float>& x, int64_t dim, const std::vector<int32_t>& row_pos, int n_rot,
                               double base, double scale) {
  std::vector<double> out(x.begin(), x.end());
  for (size_t r = 0; r < row_pos.size(); ++r)
    for (int j = 0; j < n_rot / 2; ++j) {
      const double theta = row_pos[r] * scale * std::pow(base, -2.0 * j / n_rot);
      const double x0 = x[r * dim + 2 * j], x1 = x[r * dim + 2 * j + 1];
      out[r * dim + 2 * j] = x0 * std::cos(theta) - x1 * std::sin(theta);
      out[r * dim + 2 * j + 1] = x0 * std::sin(theta) + x1 * std::cos(theta);
    }
  return out;
}

}  // namespace

TEST_F(cpu_ops, RopeOnePositionPerTokenPartialRotation) {
  const int64_t dim = 8, heads = 3, tokens = 4;
  const int n_rot = 6;  // the last 2 values of each head pass through
  const std::vector<int32_t> pos = {0, 5, 17, 1000};
  const auto x = random_floats(dim * heads * tokens, 24);
  auto a = backend.tensor(TESSERA_DTYPE_F32, {dim, heads, tokens}, x, "q");
  auto p = backend.tensor(TESSERA_DTYPE_I32, {tokens}, pos, "positions");
  auto d = backend.tensor(TESSERA_DTYPE_F32, {dim, heads, tokens}, nullptr, "q_rope");
  auto node = make_node(TESSERA_OP_ROPE, &d, {&a, &p});
  node.i_params[0] = n_rot;
  node.f_params[0] = 10000.0f;
  node.f_params[1] = 1.0f;
  run(node);
  std::vector<int32_t> row_pos;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < heads; ++h) row_pos.push_back(pos[static_cast<size_t>(t)]);
  const auto want = naive_rope(x, dim, row_pos, n_rot, 10000.0, 1.0);
  expect_close(
      backend.read<float>(d), want, [](size_t) { return 1e-6; }, "rope per token");  // |x| <= 1: 1e-6 abs
}

TEST_F(cpu_ops, RopeOnePositionPerRowWithFrequencyScaleInPlace) {
  const int64_t dim = 16, rows = 5;
  const std::vector<int32_t> pos = {3, 1, 4, 1, 59};
  const auto x = random_floats(dim * rows, 25);
  auto a = backend.tensor(TESSERA_DTYPE_F32, {dim, rows}, x, "k");
  auto p = backend.tensor(TESSERA_DTYPE_I32, {rows}, pos, "positions");
  auto node = make_node(TESSERA_OP_ROPE, &a, {&a, &p});
  node.i_params[0] = 16;
  node.f_params[0] = 500000.0f;
  node.f_params[1] = 0.25f;
  run(node);
  const auto want = naive_rope(x, dim, pos, 16, 500000.0, 0.25);
  expect_close(
      backend.read<float>(a), want, [](size_t) { return 1e-6; }, "rope per row");
}

// ---- graphs of several nodes ------------------------------------------------

TEST_F(cpu_ops, NodesRunInOrderWithinOneGraph) {
  // out = mul_mat(W, rms_norm(x) * g): one llama sub-block.
  const int64_t k = 32, m = 8, n = 2;
  const float eps = 1e-6f;
  const auto x = random_floats(k * n, 26), g = random_floats(k, 27), w = random_floats(k * m, 28);
  auto tx = backend.tensor(TESSERA_DTYPE_F32, {k, n}, x, "x");
  auto tg = backend.tensor(TESSERA_DTYPE_F32, {k}, g, "norm.weight");
  auto tw = backend.tensor(TESSERA_DTYPE_F32, {k, m}, w, "w");
  auto t1 = backend.tensor(TESSERA_DTYPE_F32, {k, n}, nullptr, "normed");
  auto t2 = backend.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "out");
  auto n0 = make_node(TESSERA_OP_RMS_NORM, &t1, {&tx});
  n0.f_params[0] = eps;
  auto n1 = make_node(TESSERA_OP_MUL, &t1, {&t1, &tg});
  auto n2 = make_node(TESSERA_OP_MUL_MAT, &t2, {&tw, &t1});
  Status s = backend.execute({&n0, &n1, &n2});
  ASSERT_EQ(s.code, TESSERA_OK) << s.message;
  std::vector<double> want(static_cast<size_t>(m * n)), mag(want.size());
  for (int64_t c = 0; c < n; ++c) {
    double ss = 0;
    for (int64_t i = 0; i < k; ++i) ss += double(x[c * k + i]) * x[c * k + i];
    const double inv = 1.0 / std::sqrt(ss / k + eps);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t i = 0; i < k; ++i) {
        const double p = w[r * k + i] * (x[c * k + i] * inv * g[i]);
        want[c * m + r] += p;
        mag[c * m + r] += std::abs(p);
      }
  }
  // Three ops of float rounding in series: 1e-5 of the sum of |products|.
  expect_close(
      backend.read<float>(t2), want, [&](size_t i) { return 1e-5 * mag[i]; }, "chain");
}
