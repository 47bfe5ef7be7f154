// GPTQ mul_mat throughput of the cpu plugin: a 4096 x 4096 4-bit group-128
// weight (plain and act-order), mat-vec (N = 1) and prefill (N = 64),
// scalar reference vs avx512 (float activations) vs vnni (int8 activations)
// on 1 and 2 threads, next
// to Q4_0 on the same shape and kernel family as the yardstick. Not a test:
// run build/bin/bench_cpu_gptq (--quick: mat-vec without scalar or act-order).
// Times are the best of several runs; mat-vec is timed with one weight copy
// (L3-resident: the kernel's compute speed) and cycling through >= 160 MB of
// copies (every run reads its weights from DRAM, as decoding a model does).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "gptq_builder.hpp"
#include "matmul_simd_support.hpp"

using namespace tessera::cpu_test;
using Clock = std::chrono::steady_clock;

namespace {

double best_time(const std::function<void()>& f, double budget) {
  double best = 1e30, total = 0;
  for (int i = 0; i < 2 || total < budget; ++i) {
    const auto t0 = Clock::now();
    f();
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::min(best, t);
    total += t;
  }
  return best;
}

// One GPTQ mul_mat, weights [k, m] from `bytes`, activations [k, n].
class GptqMatMul {
 public:
  GptqMatMul(const std::string& yaml, int32_t dtype, int64_t k, int64_t m, int64_t n, const std::vector<uint8_t>& bytes,
             const std::vector<float>& x)
      : backend_(yaml) {
    w_.struct_size = sizeof w_;
    w_.dtype = dtype;
    w_.n_dims = 2;
    w_.ne[0] = k;
    w_.ne[1] = m;
    w_.ne[2] = w_.ne[3] = 1;
    w_.buffer = backend_.alloc(bytes.size());
    w_.name = "gptq";
    backend_.write(w_, bytes.data(), bytes.size());
    x_ = backend_.tensor(TESSERA_DTYPE_F32, {k, n}, x, "x");
    dst_ = backend_.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "dst");
    node_ = make_node(TESSERA_OP_MUL_MAT, &dst_, {&w_, &x_});
  }
  void execute() {
    const Status s = backend_.execute({&node_});
    if (s.code != TESSERA_OK) throw std::runtime_error(s.message);
  }

 private:
  Backend backend_;
  tessera_tensor w_{}, x_{}, dst_{};
  tessera_node node_{};
};

// Seconds per run of `make()`'s job; from DRAM: over enough copies to defeat the caches.
template <class Make>
double time_runs(Make make, size_t weight_bytes, int64_t n, bool dram) {
  const size_t copies = !dram ? 1 : std::max<size_t>(1, (size_t{160} << 20) / weight_bytes + 1);
  std::vector<std::unique_ptr<typename decltype(make())::element_type>> runs;
  for (size_t i = 0; i < copies; ++i) runs.push_back(make());
  return best_time(
             [&] {
               for (auto& r : runs) r->execute();
             },
             n > 1 ? 1.0 : 0.5) /
         static_cast<double>(copies);
}

void report(const char* what, int64_t n, bool dram, const char* kernels, int threads, double t, size_t bytes, int64_t m,
            int64_t k) {
  std::printf("%-16s %3lld %-4s %-7s %2d %10.3f %8.2f %8.1f\n", what, static_cast<long long>(n), dram ? "DRAM" : "L3",
              kernels, threads, t * 1e3, static_cast<double>(bytes) / t / 1e9,
              2.0 * static_cast<double>(m * k * n) / t / 1e9);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // --quick: mat-vec only (avx512, vnni), plain order, and the Q4_0 yardstick.
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int64_t k = 4096, m = 4096;
  if (const std::string why = kernels_unavailable("avx512"); !why.empty()) {
    std::printf("avx512 kernels unavailable: %s\n", why.c_str());
    return 0;
  }
  const std::string no_vnni = kernels_unavailable("vnni");
  if (!no_vnni.empty()) std::printf("vnni kernels unavailable: %s\n", no_vnni.c_str());
  const auto skip_kernels = [&](const char* kernels) {
    return std::strcmp(kernels, "vnni") == 0 && !no_vnni.empty();
  };
  std::printf(
      "weights %lld x %lld (K x N); L3: one weight copy, DRAM: cycling >= 160 MB of copies\n"
      "%-16s %3s %-4s %-7s %2s %10s %8s %8s\n",
      static_cast<long long>(k), static_cast<long long>(m), "weights", "N", "from", "kernels", "th", "time ms", "GB/s",
      "GFLOP/s");
  const std::vector<float> w = random_floats(static_cast<size_t>(k * m), 1);
  for (bool act_order : {false, true}) {
    if (quick && act_order) continue;
    tessera::test::GptqSpec spec{4, k, m, 128, false, act_order, 2};
    const auto t = tessera::test::build_gptq(spec, w);
    for (int64_t n : {1, 64}) {
      if (quick && n > 1) continue;
      const auto x = random_floats(static_cast<size_t>(k * n), 3);
      for (int threads : {1, 2})
        for (const char* kernels : {"scalar", "avx512", "vnni"})
          for (bool dram : {false, true}) {
            if (skip_kernels(kernels) || (quick && std::strcmp(kernels, "scalar") == 0)) continue;
            if (n > 1 && dram) continue;  // prefill reuses each weight 64 times: cache residency hardly matters
            if (std::strcmp(kernels, "scalar") == 0 && (dram || (n > 1 && threads == 1))) continue;  // seconds
            const double s = time_runs(
                [&] {
                  return std::make_unique<GptqMatMul>(yaml_for(kernels, threads), TESSERA_DTYPE_GPTQ_4BIT, k, m, n,
                                                      t.bytes, x);
                },
                t.bytes.size(), n, dram);
            report(act_order ? "GPTQ4 g128 act" : "GPTQ4 g128", n, dram, kernels, threads, s, t.bytes.size(), m, k);
          }
    }
  }
  const auto q4 = random_weights(TESSERA_DTYPE_Q4_0, k, m, 11);
  for (int64_t n : {1, 64}) {
    if (quick && n > 1) continue;
    const auto x = random_floats(static_cast<size_t>(k * n), 3);
    for (int threads : {1, 2})
      for (const char* kernels : {"avx512", "vnni"})
        for (bool dram : {false, true}) {
          if ((n > 1 && dram) || (!no_vnni.empty() && std::strcmp(kernels, "vnni") == 0)) continue;
          const MatMulCase c{TESSERA_DTYPE_Q4_0, k, m, n};
          const double s = time_runs([&] { return std::make_unique<MatMulRun>(yaml_for(kernels, threads), c, q4, x); },
                                     q4.size(), n, dram);
          report("Q4_0", n, dram, kernels, threads, s, q4.size(), m, k);
        }
  }
  return 0;
}
