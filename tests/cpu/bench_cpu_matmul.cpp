// Mat-vec (N = 1) and prefill (N = 64) MUL_MAT throughput of the cpu plugin,
// scalar reference vs avx512 (and vnni: int8 activations; mat-vec and prefill
// of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K .. Q6_K and IQ4_XS)
// kernels on 1 and 2 threads, plus a plain
// memcpy as the machine's memory bandwidth yardstick. Not a test: run
//   build/bin/bench_cpu_matmul            (everything)
//   build/bin/bench_cpu_matmul --quick    (4096 x 4096 only)
//   build/bin/bench_cpu_matmul --vnni     (the int8 types only, avx512 vs vnni)
// Times are the best of several runs; GB/s counts the weight bytes once.
// Mat-vec cycles through enough weight copies (>= 160 MB) that every run
// reads its weights from DRAM, not from the L3 a single copy would fit in;
// TESSERA_BENCH_CACHED=1 keeps one copy instead (4096 x 4096 then stays in a
// 32 MiB L3: the kernel's compute-bound rate).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "matmul_simd_support.hpp"

using namespace tessera::cpu_test;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Best time of runs until `budget` seconds have passed (at least 2 runs).
template <class F>
double best_time(F&& f, double budget) {
  double best = 1e30, total = 0;
  for (int i = 0; i < 2 || total < budget; ++i) {
    const auto t0 = Clock::now();
    f();
    const double t = seconds_since(t0);
    best = std::min(best, t);
    total += t;
  }
  return best;
}

// memcpy of `bytes` split over `threads`; GB/s counts bytes read + written.
double copy_bandwidth(size_t bytes, int threads) {
  std::vector<char> a(bytes, 1), b(bytes, 2);
  const double t = best_time(
      [&] {
        std::vector<std::thread> pool;
        const size_t part = bytes / static_cast<size_t>(threads);
        for (int i = 0; i < threads; ++i)
          pool.emplace_back([&, i] { std::memcpy(b.data() + part * i, a.data() + part * i, part); });
        for (auto& th : pool) th.join();
      },
      1.0);
  return 2.0 * static_cast<double>(bytes) / t / 1e9;
}

// Weights of m rows: 256 quantized rows repeated (timing does not depend on values).
std::vector<uint8_t> bench_weights(int32_t dtype, int64_t k, int64_t m) {
  const int64_t distinct = std::min<int64_t>(m, 256);
  const auto some = random_weights(dtype, k, distinct, 11);
  std::vector<uint8_t> all(row_bytes(dtype, k) * static_cast<uint64_t>(m));
  for (int64_t r = 0; r < m; r += distinct)
    std::memcpy(all.data() + row_bytes(dtype, k) * r, some.data(),
                row_bytes(dtype, k) * static_cast<uint64_t>(std::min(distinct, m - r)));
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  // --vnni: only the types with int8 kernels, avx512 vs vnni (int8 activations).
  const bool vnni_only = argc > 1 && std::strcmp(argv[1], "--vnni") == 0;
  // An optional second argument keeps one type (e.g. `--vnni Q4_K`).
  const std::string only_type = argc > 2 ? argv[2] : "";
  const char* cached_env = std::getenv("TESSERA_BENCH_CACHED");
  const bool cached = cached_env != nullptr && std::strcmp(cached_env, "1") == 0;
  const bool have_vnni = Backend(yaml_for("vnni", 1)).create_status().code == TESSERA_OK;
  std::printf("memcpy bandwidth (read + write): 1 thread %.1f GB/s, 2 threads %.1f GB/s\n",
              copy_bandwidth(size_t{256} << 20, 1), copy_bandwidth(size_t{256} << 20, 2));
  {
    Backend probe(yaml_for("avx512", 1));
    if (probe.create_status().code != TESSERA_OK) {
      std::printf("avx512 kernels unavailable: %s\n", probe.create_status().message.c_str());
      return 0;
    }
  }
  std::printf("%-6s %-12s %3s %-7s %2s %10s %8s %8s %8s\n", "dtype", "M x K", "N", "kernels", "th", "time ms",
              "GB/s", "GFLOP/s", "speedup");
  struct Shape {
    int64_t m, k;
  };
  std::vector<Shape> shapes = {{4096, 4096}};
  if (!quick) shapes.push_back({11008, 4096});
  for (int32_t dtype : {TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1, TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1,
                        TESSERA_DTYPE_IQ4_NL, TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K, TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K,
                        TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_IQ4_XS, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_F16})
    for (const Shape& s : shapes) {
      const bool kquant = dtype == TESSERA_DTYPE_Q2_K || dtype == TESSERA_DTYPE_Q3_K || dtype == TESSERA_DTYPE_Q4_K ||
                          dtype == TESSERA_DTYPE_Q5_K || dtype == TESSERA_DTYPE_Q6_K || dtype == TESSERA_DTYPE_IQ4_XS;
      const bool legacy = dtype == TESSERA_DTYPE_Q4_1 || dtype == TESSERA_DTYPE_Q5_0 || dtype == TESSERA_DTYPE_Q5_1 ||
                          dtype == TESSERA_DTYPE_IQ4_NL;
      const bool int8_type = kquant || legacy || dtype == TESSERA_DTYPE_Q4_0 || dtype == TESSERA_DTYPE_Q8_0;
      // Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K, Q6_K and IQ4_XS: only
      // with --vnni (the full run keeps its old rows).
      if (!vnni_only && (legacy || (kquant && dtype != TESSERA_DTYPE_Q4_K))) continue;
      if (vnni_only && !int8_type) continue;
      if (!only_type.empty() && dtype_name(dtype) != only_type) continue;
      const auto w = bench_weights(dtype, s.k, s.m);
      for (int64_t n : {1, 64}) {
        
        const auto x = random_floats(static_cast<size_t>(s.k * n), 3);
        const MatMulCase c{dtype, s.k, s.m, n};
        for (int threads : {1, 2}) {
          double scalar_time = 0;
          for (const char* kernels : {"scalar", "avx512", "vnni"}) {
            // The scalar prefill of the big shape takes seconds: skip it.
            if (std::strcmp(kernels, "scalar") == 0 && (vnni_only || (n > 1 && s.m > 4096))) continue;
            // vnni differs from avx512 only for the int8 types.
            if (std::strcmp(kernels, "vnni") == 0 && (!have_vnni || !int8_type)) continue;
            const size_t copies = n > 1 || cached ? 1 : std::max<size_t>(1, (size_t{160} << 20) / w.size() + 1);
            std::vector<std::unique_ptr<MatMulRun>> runs;
            for (size_t i = 0; i < copies; ++i)
              runs.push_back(std::make_unique<MatMulRun>(yaml_for(kernels, threads), c, w, x));
            const double t = best_time(
                                 [&] {
                                   for (auto& r : runs) r->execute();
                                 },
                                 n > 1 ? 1.0 : 0.5) /
                             static_cast<double>(copies);
            if (std::strcmp(kernels, "scalar") == 0) scalar_time = t;
            const double flops = 2.0 * static_cast<double>(s.m * s.k * n);
            char speedup[16] = "";
            if (std::strcmp(kernels, "scalar") != 0 && scalar_time > 0)
              std::snprintf(speedup, sizeof speedup, "%.1fx", scalar_time / t);
            std::printf("%-6s %5lldx%-6lld %3lld %-7s %2d %10.3f %8.2f %8.1f %8s\n", dtype_name(dtype).c_str(),
                        static_cast<long long>(s.m), static_cast<long long>(s.k), static_cast<long long>(n), kernels,
                        threads, t * 1e3, static_cast<double>(w.size()) / t / 1e9, flops / t / 1e9, speedup);
            std::fflush(stdout);
          }
        }
      }
    }
  return 0;
}
