// Shared by the fast-kernel tests and the benchmark: random weights of any
// weight dtype (made with the SDK quantizer), and one MUL_MAT run on a
// backend created from a YAML compute entry (e.g. with `kernels: avx512`).
#pragma once

#include <chrono>

#include "cpu_test_support.hpp"
#include "tessera/quant/quantize.hpp"

namespace tessera::cpu_test {

// The 16 weight dtypes mul_mat accepts.
inline const std::vector<int32_t>& weight_dtypes() {
  static const std::vector<int32_t> all = {
      TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1,
      TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K,
      TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL,
      TESSERA_DTYPE_IQ4_XS};
  return all;
}

inline std::string dtype_name(int32_t dtype) { return tessera_dtype_info(dtype).name; }

inline uint64_t row_bytes(int32_t dtype, int64_t k) {
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  return static_cast<uint64_t>(k) / t.block_elements * t.block_bytes;
}

// `rows` rows of k random values in [-1, 1], quantized row by row.
inline std::vector<uint8_t> random_weights(int32_t dtype, int64_t k, int64_t rows, uint32_t seed) {
  const std::vector<float> values = random_floats(static_cast<size_t>(k * rows), seed);
  std::vector<uint8_t> bytes(row_bytes(dtype, k) * static_cast<uint64_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    if (!tessera::quant::quantize_row(dtype, values.data() + r * k, bytes.data() + row_bytes(dtype, k) * r, k))
      throw std::runtime_error("no quantizer for " + dtype_name(dtype));
  return bytes;
}

// Weights [k, m, b2] (b2 batches), activations [k, n, c2], dst [m, n, c2].
struct MatMulCase {
  int32_t dtype;
  int64_t k, m, n;
  int64_t b2 = 1, c2 = 1;
};

class MatMulRun {
 public:
  MatMulRun(const std::string& yaml, const MatMulCase& c, const std::vector<uint8_t>& w, const std::vector<float>& x)
      : backend_(yaml), case_(c) {
    if (backend_.create_status().code != TESSERA_OK) return;
    const tessera_dtype_traits t = tessera_dtype_info(c.dtype);
    w_ = {};
    w_.struct_size = sizeof w_;
    w_.dtype = c.dtype;
    w_.n_dims = 3;
    w_.ne[0] = c.k;
    w_.ne[1] = c.m;
    w_.ne[2] = c.b2;
    w_.ne[3] = 1;
    w_.nb[0] = t.block_bytes;
    w_.nb[1] = row_bytes(c.dtype, c.k);
    w_.nb[2] = w_.nb[3] = w_.nb[1] * static_cast<uint64_t>(c.m);
    w_.buffer = backend_.alloc(w.size());
    w_.name = "weights";
    backend_.write(w_, w.data(), w.size());
    x_ = backend_.tensor(TESSERA_DTYPE_F32, {c.k, c.n, c.c2}, x, "activations");
    dst_ = backend_.tensor(TESSERA_DTYPE_F32, {c.m, c.n, c.c2}, nullptr, "dst");
    node_ = make_node(TESSERA_OP_MUL_MAT, &dst_, {&w_, &x_});
  }
  const Status& create_status() const { return backend_.create_status(); }
  Status execute() { return backend_.execute({&node_}); }
  std::vector<float> result() { return backend_.read<float>(dst_); }

 private:
  Backend backend_;
  MatMulCase case_;
  tessera_tensor w_{}, x_{}, dst_{};
  tessera_node node_{};
};

inline std::string yaml_for(const std::string& kernels, int threads) {
  return "{backend: cpu, threads: " + std::to_string(threads) + ", kernels: " + kernels + "}";
}

// Why a backend with this `kernels` value cannot be created here ("" if it can).
inline std::string kernels_unavailable(const std::string& kernels) {
  Backend b(yaml_for(kernels, 1));
  return b.create_status().code == TESSERA_OK ? "" : b.create_status().message;
}

// Skips the current test, with the plugin's reason, where `kernels` cannot run.
#define SKIP_WITHOUT_KERNELS(kernels)                                                             \
  do {                                                                                            \
    const std::string why = ::tessera::cpu_test::kernels_unavailable(kernels);                    \
    if (!why.empty()) GTEST_SKIP() << "no '" << (kernels) << "' kernels on this machine: " << why; \
  } while (0)

// One MUL_MAT on a backend made from `yaml`; creation or execution failing is
// a test failure (and an empty result).
inline std::vector<float> run_mul_mat(const std::string& yaml, const MatMulCase& c, const std::vector<uint8_t>& w,
                                      const std::vector<float>& x) {
  MatMulRun r(yaml, c, w, x);
  EXPECT_EQ(r.create_status().code, TESSERA_OK) << r.create_status().message;
  const Status s = r.execute();
  EXPECT_EQ(s.code, TESSERA_OK) << s.message;
  return r.result();
}

}  // namespace tessera::cpu_test
