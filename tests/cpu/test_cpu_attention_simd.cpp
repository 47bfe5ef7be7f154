// ATTENTION under `kernels: avx512` (simd/attention_avx512.cpp: float sums,
// a polynomial exp) against the scalar reference (double sums, std::exp) on
// the same inputs: relative norm error <= 1e-5 per case (float rounding of
// sums over up to a few thousand terms; measured values are printed), for
// F32, F16 and Q8_0 caches (the same dequantized values on both sides), head_dim below 16, not a multiple of 16, 128 and 256,
// grouped-query heads, decode and prefill, a start inside the cache, and a
// context long enough for many four-key steps and a tail. Results are
// bitwise identical on 1 and 2 threads, and `auto` runs the same kernel.
#include <cmath>
#include <string>
#include <vector>

#include "matmul_simd_support.hpp"
#include "tessera/quant/half.hpp"
#include "tessera/quant/quantize.hpp"

using namespace tessera::cpu_test;

namespace {

struct Shape {
  int64_t head_dim, heads, kv_heads, ctx, tokens, first;
};

std::vector<float> run_attention(const std::string& yaml, int32_t cache_dtype, const Shape& s) {
  Backend b(yaml);
  EXPECT_EQ(b.create_status().code, TESSERA_OK) << b.create_status().message;
  if (b.create_status().code != TESSERA_OK) return {};
  const int64_t valid = s.first + s.tokens;
  const auto q = random_floats(static_cast<size_t>(s.head_dim * s.heads * s.tokens), 11);
  const auto kf = random_floats(static_cast<size_t>(s.head_dim * s.kv_heads * s.ctx), 12);
  const auto vf = random_floats(static_cast<size_t>(s.head_dim * s.kv_heads * s.ctx), 13);
  const std::vector<int64_t> cache_ne = {s.head_dim, s.kv_heads, s.ctx};
  auto cache = [&](const std::vector<float>& x, const char* name) {
    if (cache_dtype == TESSERA_DTYPE_F32) return b.tensor(TESSERA_DTYPE_F32, cache_ne, x, name);
    if (cache_dtype == TESSERA_DTYPE_Q8_0) {  // rows of head_dim values, quantized by the SDK
      const uint64_t row_bytes = static_cast<uint64_t>(s.head_dim / 32 * 34);
      std::vector<uint8_t> bytes(row_bytes * static_cast<uint64_t>(s.kv_heads * s.ctx));
      for (int64_t r = 0; r < s.kv_heads * s.ctx; ++r)
        tessera::quant::quantize_row(TESSERA_DTYPE_Q8_0, x.data() + r * s.head_dim, bytes.data() + r * row_bytes,
                                     s.head_dim);
      tessera_tensor t = block_tensor(b, TESSERA_DTYPE_Q8_0, s.head_dim, s.kv_heads * s.ctx, bytes);
      t.n_dims = 3;  // rows as [Hkv, C]
      t.ne[1] = s.kv_heads;
      t.ne[2] = s.ctx;
      t.nb[2] = t.nb[1] * static_cast<uint64_t>(s.kv_heads);
      t.nb[3] = t.nb[2] * static_cast<uint64_t>(s.ctx);
      t.name = name;
      return t;
    }
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); ++i) h[i] = tessera::quant::f32_to_f16(x[i]);
    return b.tensor(TESSERA_DTYPE_F16, cache_ne, h, name);
  };
  tessera_tensor tq = b.tensor(TESSERA_DTYPE_F32, {s.head_dim, s.heads, s.tokens}, q, "q");
  tessera_tensor tk = cache(kf, "k"), tv = cache(vf, "v");
  tessera_tensor out = b.tensor(TESSERA_DTYPE_F32, {s.head_dim, s.heads, s.tokens}, nullptr, "out");
  tessera_node node =
      attention_node(&out, &tq, &tk, &tv, s.first, valid, 1.0f / std::sqrt(static_cast<float>(s.head_dim)));
  const Status st = b.execute({&node});
  EXPECT_EQ(st.code, TESSERA_OK) << st.message;
  return b.read<float>(out);
}

class cpu_attention_simd : public ::testing::TestWithParam<int32_t> {};

TEST_P(cpu_attention_simd, MatchesTheScalarReference) {
  SKIP_WITHOUT_KERNELS("avx512");
  const int32_t dtype = GetParam();
  const Shape shapes[] = {
      {8, 4, 2, 10, 3, 4},        // head_dim below one vector
      {80, 4, 2, 300, 1, 200},    // not a multiple of 16; decode
      {128, 8, 2, 700, 37, 500},  // GQA prefill starting inside the cache
      {128, 4, 4, 2051, 1, 2050}, // a long decode: many four-key steps and a tail of 3
      {256, 2, 1, 90, 20, 0},     // the largest in-register head_dim; prefill from 0
      {272, 2, 1, 40, 5, 10},     // beyond it: the reference runs
      {32, 4, 1, 65, 9, 30},      // Q8_0's smallest head: one block per row
  };
  for (const Shape& s : shapes) {
    if (dtype == TESSERA_DTYPE_Q8_0 && s.head_dim % 32 != 0) continue;  // Q8_0 rows are whole blocks
    const std::string what = std::string(tessera_dtype_info(dtype).name) + " D=" + std::to_string(s.head_dim) +
                             " T=" + std::to_string(s.tokens) + " first=" + std::to_string(s.first);
    const auto want = run_attention(yaml_for("scalar", 2), dtype, s);
    const auto got = run_attention(yaml_for("avx512", 1), dtype, s);
    ASSERT_EQ(got.size(), want.size()) << what;
    const double err = relative_error(got, want);
    EXPECT_LE(err, 1e-5) << what;
    std::printf("attention %s: relative error %.3g\n", what.c_str(), err);
    EXPECT_EQ(got, run_attention(yaml_for("avx512", 2), dtype, s)) << what << ": depends on the thread count";
    EXPECT_EQ(got, run_attention(yaml_for("auto", 2), dtype, s)) << what << ": auto runs another kernel";
  }
}

INSTANTIATE_TEST_SUITE_P(caches, cpu_attention_simd, ::testing::Values(TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0),
                         [](const ::testing::TestParamInfo<int32_t>& p) {
                           return std::string(tessera_dtype_info(p.param).name);
                         });

}  // namespace
