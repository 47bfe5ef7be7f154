// One MUL_MAT as the fast kernels see it: plain pointers, sizes and byte
// strides only. The AVX-512 translation units take nothing but this (no
// std::string, no shared inline templates), so code compiled with AVX-512
// flags can never be picked by the linker for the portable build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::cpu {

class ThreadPool;

struct MatMulJob {
  int32_t dtype = 0;    // weight dtype (TESSERA_DTYPE_*)
  int64_t k = 0;        // inner dimension: values per weight row
  int64_t m = 0;        // weight rows = dst ne[0]
  int64_t n = 0;        // activation columns = dst ne[1]
  int64_t c2 = 1, c3 = 1;  // activation batches
  int64_t r2 = 1, r3 = 1;  // activation batches sharing one weight batch
  const std::byte* w = nullptr;
  uint64_t w_nb1 = 0, w_nb2 = 0, w_nb3 = 0;
  const std::byte* x = nullptr;  // F32, rows contiguous
  uint64_t x_nb1 = 0, x_nb2 = 0, x_nb3 = 0;
  std::byte* dst = nullptr;  // F32
  uint64_t d_nb0 = 0, d_nb1 = 0, d_nb2 = 0, d_nb3 = 0;
};

// Runs the whole job on `pool`; every dst element is summed by one task in
// an order that depends on neither the thread count nor the split.
using MatMulFn = void (*)(const MatMulJob& job, ThreadPool& pool);

}  // namespace tessera::cpu
