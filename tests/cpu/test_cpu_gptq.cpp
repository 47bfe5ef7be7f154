// GPTQ mul_mat in the cpu plugin. GPTQ tensors are built here from float
// weights (tests/support/gptq_builder.hpp, no format plugin involved) and
// checked four ways:
//  - the SDK reference dequantizer restores the original weights to within
//    one quantization step, at the right input rows (so act-order / perm
//    handling is tested against the float weights themselves);
//  - the scalar kernel equals a double-precision matmul over the reference
//    dequantization: relative norm error <= 1e-6 (it sums in double too; only
//    the final float rounding differs);
//  - the AVX-512 kernels match it: relative norm error <= 1e-5 (float
//    accumulation, group sums folded as scale * (sum_qx - zero * sum_x)),
//    and are bitwise identical on 1 and 2 threads (a bound the int8 kernel
//    cannot meet, so this also shows `avx512` keeps the float kernel);
//  - the int8 kernels (`kernels: vnni`: the mat-vec for <= 4 rows, the
//    prefill panel for more; skipped without AVX512_VNNI) against two
//    references, as test_cpu_matmul_vnni.cpp states
//    them: (a) tight, a double matmul over the reference dequantization and
//    the activations quantized as the kernel quantizes them (from the spec:
//    the gathered column x[perm[k]] in blocks of 32, amax = max |x|,
//    d = amax / 127 in float, q = round half away of x * (1 / d)). The
//    kernel sums exact integer block dots with float FMAs and folds each
//    group as scale * (sum - zero * sum_b d_b sum(q_b)): a few float
//    roundings of terms of size scale * (code + zero) * |xq|, which
//    cancellation cannot shrink, so per output we allow
//    |vnni - ref| <= 1e-6 * sum_i (|w_i| + 2 scale_i zero_i) |xq_i|
//    (about 16 float epsilons; measured worst 1.2e-8);
//    (b) loose, the double matmul on the unquantized activations:
//    ||vnni - ref|| < 2e-2 * sqrt(sum_outputs sum_i (w_i x_i)^2) (rounding to
//    8 bits moves each value by <= amax / 254, ~0.4% RMS). Bitwise identical
//    on 1 and 2 threads, and `auto` is the same kernel.
// Hostile headers are rejected with an error naming the field.
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gptq_builder.hpp"
#include "matmul_simd_support.hpp"
#include "tessera/quant/gptq.hpp"

using namespace tessera::cpu_test;
using tessera::test::build_gptq;
using tessera::test::GptqSpec;
using tessera::test::GptqTensor;

namespace {

int32_t gptq_dtype(uint32_t bits) {
  return bits == 4 ? TESSERA_DTYPE_GPTQ_4BIT : bits == 8 ? TESSERA_DTYPE_GPTQ_8BIT : TESSERA_DTYPE_GPTQ_3BIT;
}

// One GPTQ mul_mat on a backend from `yaml`: dst [n][rows] as rows of n.
struct GptqRun {
  Backend backend;
  tessera_tensor w{}, x{}, dst{};
  tessera_node node{};

  GptqRun(const std::string& yaml, int32_t dtype, int64_t k, int64_t n, const std::vector<uint8_t>& bytes,
          const std::vector<float>& xs, int64_t rows, uint64_t offset = 0)
      : backend(yaml) {
    if (backend.create_status().code != TESSERA_OK) return;
    w.struct_size = sizeof w;
    w.dtype = dtype;
    w.n_dims = 2;
    w.ne[0] = k;
    w.ne[1] = n;
    w.ne[2] = w.ne[3] = 1;
    w.buffer = backend.alloc(offset + bytes.size());
    w.offset = offset;
    w.name = "gptq_w";
    if (!bytes.empty()) backend.write(w, bytes.data(), bytes.size());
    x = backend.tensor(TESSERA_DTYPE_F32, {k, rows}, xs, "x");
    dst = backend.tensor(TESSERA_DTYPE_F32, {n, rows}, nullptr, "dst");
    node = make_node(TESSERA_OP_MUL_MAT, &dst, {&w, &x});
  }
  Status execute() { return backend.execute({&node}); }
  std::vector<float> result() { return backend.read<float>(dst); }
};

std::vector<float> run_or_fail(const std::string& yaml, int32_t dtype, int64_t k, int64_t n,
                               const std::vector<uint8_t>& bytes, const std::vector<float>& x, int64_t rows) {
  GptqRun run(yaml, dtype, k, n, bytes, x, rows);
  EXPECT_EQ(run.backend.create_status().code, TESSERA_OK) << run.backend.create_status().message;
  const Status s = run.execute();
  EXPECT_EQ(s.code, TESSERA_OK) << s.message;
  return run.result();
}

// sum_k W[m][k] * x[r][k] in double over the reference dequantization.
std::vector<double> reference(const std::vector<float>& w, const std::vector<float>& x, int64_t k, int64_t n,
                              int64_t rows) {
  std::vector<double> out(static_cast<size_t>(n * rows));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t m = 0; m < n; ++m) {
      double s = 0;
      for (int64_t i = 0; i < k; ++i) s += static_cast<double>(w[m * k + i]) * x[r * k + i];
      out[r * n + m] = s;
    }
  return out;
}

bool has_avx512() {
  Backend probe(yaml_for("avx512", 1));
  return probe.create_status().code == TESSERA_OK;
}

// bits, group size, act-order, symmetric
using Param = std::tuple<uint32_t, int64_t, bool, bool>;

class cpu_gptq : public testing::TestWithParam<Param> {};

TEST_P(cpu_gptq, KernelsMatchReferenceDequantization) {
  const auto [bits, group, act_order, sym] = GetParam();
  // K = 320: with groups of 128 or 64 the last group is partial (or not);
  // N = 40: column vectors of 16 end in a masked 8.
  const int64_t k = 320, n = 40;
  GptqSpec spec;
  spec.bits = bits;
  spec.k = k;
  spec.n = n;
  spec.group_size = group;
  spec.sym = sym;
  spec.act_order = act_order;
  spec.seed = 7 + bits;
  const std::vector<float> w_orig = random_floats(static_cast<size_t>(k * n), 100 + bits);
  const GptqTensor t = build_gptq(spec, w_orig);
  const int32_t dtype = gptq_dtype(bits);
  ASSERT_EQ(tessera::quant::gptq_check(t.bytes.data(), t.bytes.size(), dtype, k, n), "");

  // The reference dequantizer puts every weight back at its original row.
  std::vector<float> w(static_cast<size_t>(k * n));
  tessera::quant::gptq_dequantize(t.bytes.data(), w.data());
  const uint32_t gs = group < 0 ? static_cast<uint32_t>(k) : static_cast<uint32_t>(group);
  for (int64_t m = 0; m < n; ++m)
    for (int64_t i = 0; i < k; ++i) {
      const int32_t g = act_order ? t.g_idx[static_cast<size_t>(i)] : static_cast<int32_t>(i / gs);
      const float step = t.scale_used[static_cast<size_t>(g) * n + m];
      ASSERT_LE(std::fabs(w[m * k + i] - w_orig[m * k + i]), 1.001f * step) << "column " << m << ", row " << i;
    }

  const bool avx = has_avx512();
  for (int64_t rows : {1, 3, 7}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    const std::vector<float> x = random_floats(static_cast<size_t>(k * rows), 500 + static_cast<uint32_t>(rows));
    const std::vector<double> want = reference(w, x, k, n, rows);
    const std::vector<float> scalar = run_or_fail(yaml_for("scalar", 2), dtype, k, n, t.bytes, x, rows);
    EXPECT_LE(relative_error(scalar, want), 1e-6);
    if (!avx) continue;
    const std::vector<float> fast1 = run_or_fail(yaml_for("avx512", 1), dtype, k, n, t.bytes, x, rows);
    const std::vector<float> fast2 = run_or_fail(yaml_for("avx512", 2), dtype, k, n, t.bytes, x, rows);
    EXPECT_LE(relative_error(fast1, want), 1e-5);
    EXPECT_EQ(fast1, fast2) << "results depend on the thread count";
  }
}

std::string layout_name(const testing::TestParamInfo<Param>& param) {
  const auto [bits, group, act, sym] = param.param;
  return std::to_string(bits) + "bit_g" + (group < 0 ? std::string("all") : std::to_string(group)) +
         (act ? "_actorder" : "") + (sym ? "_sym" : "_asym");
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, cpu_gptq,
                         testing::Combine(testing::Values(4u, 8u, 3u),
                                          testing::Values(int64_t{32}, int64_t{64}, int64_t{128}, int64_t{-1}),
                                          testing::Bool(), testing::Bool()),
                         layout_name);

// Bigger shapes through every kernel path: K = 1024 (g128: 8 groups; 4 row
// blocks in the mat-vec kernel), N = 264; and K = 256, N = 1040 (one row
// block, so the mat-vec kernel splits the columns into 2 strips of 576 and
// 464); prefill with 13 rows (6 + 6 + 1 panel blocks).
// The g128 symmetric tensor of the larger-shape tests and its reference
// dequantization.
struct ShapeCase {
  GptqTensor t;
  std::vector<float> w;
};
ShapeCase shape_case(int64_t k, int64_t n, uint32_t bits) {
  GptqSpec spec{bits, static_cast<uint64_t>(k), static_cast<uint64_t>(n), 128, false, true, 3};
  ShapeCase c{build_gptq(spec, random_floats(static_cast<size_t>(k * n), 9)), std::vector<float>(static_cast<size_t>(k * n))};
  tessera::quant::gptq_dequantize(c.t.bytes.data(), c.w.data());
  return c;
}

TEST(cpu_gptq_shapes, LargerMatricesAndPrefill) {
  for (const auto& [k, n] : {std::pair<int64_t, int64_t>{1024, 264}, {256, 1040}}) {
    for (uint32_t bits : {4u, 8u}) {
      const auto [t, w] = shape_case(k, n, bits);
      for (int64_t rows : {1, 2, 4, 5, 8, 9, 10, 11, 13, 64}) {
        SCOPED_TRACE(std::to_string(k) + " x " + std::to_string(n) + ", " + std::to_string(bits) + " bits, rows " +
                     std::to_string(rows));
        const auto x = random_floats(static_cast<size_t>(k * rows), 77);
        const auto want = reference(w, x, k, n, rows);
        EXPECT_LE(relative_error(run_or_fail(yaml_for("scalar", 2), gptq_dtype(bits), k, n, t.bytes, x, rows), want),
                  1e-6);
        if (has_avx512()) {
          EXPECT_LE(relative_error(run_or_fail(yaml_for("avx512", 2), gptq_dtype(bits), k, n, t.bytes, x, rows), want),
                    1e-5);
        }
      }
    }
  }
}

// ---- int8 mat-vec (`kernels: vnni`) ------------------------------------------

// The kernel's activation quantization, from the spec: per activation row,
// the gathered column x[perm[k]] in blocks of 32 -> d * q, put back at the
// original input rows.
std::vector<double> int8_activations(const std::vector<float>& x, const int32_t* perm, int64_t k, int64_t rows) {
  std::vector<double> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * k;
    for (int64_t b = 0; b < k; b += 32) {
      float amax = 0;
      for (int64_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(xr[perm[i]]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      for (int64_t i = b; i < b + 32; ++i) {
        const float q = std::round(xr[perm[i]] * id);
        EXPECT_LE(std::fabs(q), 127.0f);
        out[static_cast<size_t>(r * k + perm[i])] = static_cast<double>(d) * static_cast<double>(q);
      }
    }
  }
  return out;
}

// Runs `rows` random activation rows through `kernels: vnni` (1 and 2
// threads) and `auto`, and checks them against references (a) and (b) of
// the file comment. `w` is the SDK's dequantization of `t`.
void expect_int8_kernel_matches(const GptqTensor& t, const std::vector<float>& w, int32_t dtype, int64_t rows,
                                uint32_t seed) {
  const int64_t k = static_cast<int64_t>(t.header.in_features), n = static_cast<int64_t>(t.header.out_features);
  const auto* perm = reinterpret_cast<const int32_t*>(t.bytes.data() + t.header.perm_offset);
  const uint8_t* zeros = t.bytes.data() + t.header.zeros_offset;
  const std::vector<float> x = random_floats(static_cast<size_t>(k * rows), seed);
  const std::vector<double> xq = int8_activations(x, perm, k, rows);
  const std::vector<float> got = run_or_fail(yaml_for("vnni", 1), dtype, k, n, t.bytes, x, rows);
  ASSERT_EQ(got.size(), static_cast<size_t>(n * rows));
  double loose_err = 0, loose_terms = 0;
  int bad = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t m = 0; m < n; ++m) {
      double ref = 0, bound = 0, exact = 0;
      for (int64_t i = 0; i < k; ++i) {
        const size_t g =
            static_cast<size_t>(t.g_idx[static_cast<size_t>(i)]) * static_cast<size_t>(n) + static_cast<size_t>(m);
        const double wi = w[static_cast<size_t>(m * k + i)], xqi = xq[static_cast<size_t>(r * k + i)];
        const double xi = x[static_cast<size_t>(r * k + i)];
        ref += wi * xqi;
        bound += (std::fabs(wi) + 2.0 * t.scale_used[g] * zeros[g]) * std::fabs(xqi);
        exact += wi * xi;
        loose_terms += wi * xi * wi * xi;
      }
      const double v = got[static_cast<size_t>(r * n + m)];
      if (std::fabs(v - ref) > 1e-6 * bound && ++bad <= 5)
        ADD_FAILURE() << "row " << r << ", column " << m << ": " << v << " vs " << ref << " (allowed " << 1e-6 * bound
                      << ")";
      loose_err += (v - exact) * (v - exact);
    }
  EXPECT_EQ(bad, 0) << "outputs off the quantized-activation reference";
  EXPECT_LT(std::sqrt(loose_err), 2e-2 * std::sqrt(loose_terms)) << "off the float-activation reference";
  EXPECT_EQ(got, run_or_fail(yaml_for("vnni", 2), dtype, k, n, t.bytes, x, rows))
      << "results depend on the thread count";
  EXPECT_EQ(got, run_or_fail(yaml_for("auto", 2), dtype, k, n, t.bytes, x, rows))
      << "`auto` does not run the int8 kernel on this VNNI CPU";
}

// bits, group size, act-order, symmetric
using Int8Param = std::tuple<uint32_t, int64_t, bool, bool>;

class cpu_gptq_vnni : public testing::TestWithParam<Int8Param> {};

TEST_P(cpu_gptq_vnni, MatVecMatchesReferences) {
  SKIP_WITHOUT_KERNELS("vnni");
  const auto [bits, group, act_order, sym] = GetParam();
  // As above: K = 320 (a partial last group for g64 / g128; two tasks of
  // 256 and 64 rows, so group -1 spans tasks), N = 40 (a masked tail of 8).
  const int64_t k = 320, n = 40;
  GptqSpec spec{bits, static_cast<uint64_t>(k), static_cast<uint64_t>(n), group, sym, act_order, 11 + bits};
  const GptqTensor t = build_gptq(spec, random_floats(static_cast<size_t>(k * n), 200 + bits));
  std::vector<float> w(static_cast<size_t>(k * n));
  tessera::quant::gptq_dequantize(t.bytes.data(), w.data());
  // 1-4: the mat-vec; 5, 16, 17 (a padded second group of 16 lanes): the panel.
  for (int64_t rows : {1, 2, 3, 4, 5, 16, 17}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    expect_int8_kernel_matches(t, w, gptq_dtype(bits), rows, 600 + static_cast<uint32_t>(rows));
  }
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, cpu_gptq_vnni,
                         testing::Combine(testing::Values(4u, 8u),
                                          testing::Values(int64_t{32}, int64_t{64}, int64_t{128}, int64_t{-1}),
                                          testing::Bool(), testing::Bool()),
                         layout_name);

// The shapes of LargerMatricesAndPrefill: several row tasks (K = 1024), and
// column strips (K = 256, N = 1040).
// 9 and 33 rows run the int8 prefill panel (one and three groups of 16 lanes).
TEST(cpu_gptq_vnni_shapes, LargerMatricesAndPrefill) {
  SKIP_WITHOUT_KERNELS("vnni");
  for (const auto& [k, n] : {std::pair<int64_t, int64_t>{1024, 264}, {256, 1040}}) {
    for (uint32_t bits : {4u, 8u}) {
      const auto [t, w] = shape_case(k, n, bits);
      SCOPED_TRACE(std::to_string(k) + " x " + std::to_string(n) + ", " + std::to_string(bits) + " bits");
      for (int64_t rows : {1, 2, 3, 4, 9, 33}) {
        SCOPED_TRACE("rows " + std::to_string(rows));
        expect_int8_kernel_matches(t, w, gptq_dtype(bits), rows, 70 + static_cast<uint32_t>(rows));
      }
    }
  }
}

TEST(cpu_gptq_shapes, SupportsOpSaysYesForEveryGptqWidthOnMulMatOnly) {
  Backend b(1);
  for (int32_t dt : {TESSERA_DTYPE_GPTQ_4BIT, TESSERA_DTYPE_GPTQ_8BIT, TESSERA_DTYPE_GPTQ_3BIT}) {
    EXPECT_TRUE(api().supports_op(b.get(), TESSERA_OP_MUL_MAT, dt)) << dt;
    EXPECT_FALSE(api().supports_op(b.get(), TESSERA_OP_GET_ROWS, dt)) << dt;
  }
}

// ---- hostile headers ---------------------------------------------------------

class cpu_gptq_hostile : public testing::Test {
 protected:
  static constexpr int64_t k = 128, n = 16;
  GptqTensor t = build_gptq(GptqSpec{4, k, n, 32, false, true, 5}, random_floats(static_cast<size_t>(k* n), 3));
  std::vector<float> x = random_floats(k, 4);

  tessera_gptq_header& header(std::vector<uint8_t>& bytes) {
    return *reinterpret_cast<tessera_gptq_header*>(bytes.data());
  }

  // Runs on both kernel paths; expects INVALID_ARGUMENT naming the weight and `what`.
  void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& what,
                       int32_t dtype = TESSERA_DTYPE_GPTQ_4BIT, uint64_t offset = 0) {
    for (const char* kernels : {"scalar", "auto"}) {
      GptqRun run(yaml_for(kernels, 2), dtype, k, n, bytes, x, 1, offset);
      const Status s = run.execute();
      EXPECT_EQ(s.code, TESSERA_ERR_INVALID_ARGUMENT) << kernels;
      EXPECT_NE(s.message.find("gptq_w"), std::string::npos) << s.message;
      EXPECT_NE(s.message.find(what), std::string::npos) << "want '" << what << "' in: " << s.message;
    }
  }
};

TEST_F(cpu_gptq_hostile, ValidTensorRuns) {
  GptqRun run(yaml_for("scalar", 1), TESSERA_DTYPE_GPTQ_4BIT, k, n, t.bytes, x, 1);
  EXPECT_EQ(run.execute().code, TESSERA_OK);
}

TEST_F(cpu_gptq_hostile, BadFieldsAreNamed) {
  auto b = t.bytes;
  header(b).magic = 0x12345678;
  expect_rejected(b, "header magic is 305419896, expected");
  b = t.bytes;
  header(b).version = 2;
  expect_rejected(b, "header version is 2, expected 1");
  expect_rejected(t.bytes, "header bits is 4, expected 8", TESSERA_DTYPE_GPTQ_8BIT);
  b = t.bytes;
  header(b).in_features = 256;
  expect_rejected(b, "header in_features is 256, expected the tensor's ne[0] = 128");
  b = t.bytes;
  header(b).n_groups = 3;
  expect_rejected(b, "header n_groups is 3, expected ceil(in_features / group_size) = 4");
  b = t.bytes;
  header(b).group_size = 0;
  expect_rejected(b, "header group_size is 0");
  b = t.bytes;
  header(b).group_size = 16;
  expect_rejected(b, "header group_size is 16, expected a positive multiple of 32");
  b = t.bytes;
  header(b).scales_offset = header(b).total_bytes - 64;
  expect_rejected(b, "header scales_offset is");
  b = t.bytes;
  header(b).perm_offset = uint64_t{1} << 62;
  expect_rejected(b, "header perm_offset is 4611686018427387904");
  b = t.bytes;
  header(b).qweight_offset = 0;
  expect_rejected(b, "header qweight_offset is 0, inside the header");
  b = t.bytes;
  header(b).zeros_offset += 4;
  expect_rejected(b, "expected a multiple of 64");
  b = t.bytes;
  header(b).total_bytes += 4096;
  expect_rejected(b, "header total_bytes is");
  b = t.bytes;
  header(b).reserved[2] = 1;
  expect_rejected(b, "header reserved[2] is 1, expected 0");
}

TEST_F(cpu_gptq_hostile, PermMustBeAPermutationOfTheInputRows) {
  auto b = t.bytes;
  auto* perm = reinterpret_cast<int32_t*>(b.data() + header(b).perm_offset);
  perm[5] = static_cast<int32_t>(k);
  expect_rejected(b, "perm[5] is 128, expected an input row in [0, 128)");
  b = t.bytes;
  perm = reinterpret_cast<int32_t*>(b.data() + header(b).perm_offset);
  perm[9] = -1;
  expect_rejected(b, "perm[9] is -1");
  b = t.bytes;
  perm = reinterpret_cast<int32_t*>(b.data() + header(b).perm_offset);
  perm[9] = perm[3];
  expect_rejected(b, "perm must be a permutation");
}

TEST_F(cpu_gptq_hostile, TruncatedAndMisplacedTensors) {
  std::vector<uint8_t> short_bytes(t.bytes.begin(), t.bytes.begin() + 100);
  expect_rejected(short_bytes, "less than the 128-byte GPTQ header");
  std::vector<uint8_t> cut(t.bytes.begin(), t.bytes.end() - 64);
  expect_rejected(cut, "more than the");
  expect_rejected(t.bytes, "expected a multiple of 64", TESSERA_DTYPE_GPTQ_4BIT, 16);
}

}  // namespace
