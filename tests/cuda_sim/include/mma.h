// cuda_sim's stand-in for the WMMA API (nvcuda::wmma, <mma.h>). The fragment
// layout across lanes is unspecified by CUDA, so here every lane holds the
// whole tile: loads read all of it, mma_sync computes the whole product in
// float, stores write all of it (the same values from every lane). Each call
// is a warp collective, as on the GPU: it waits for every live lane.
// Code that only touches fragments through this API and element-wise loops
// over num_elements behaves as on a GPU; code that assumes a lane layout
// cannot be checked here.
#pragma once

#include <cuda_fp16.h>

#include <type_traits>

#include "cuda_sim/device.hpp"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  // matrix_a is M x K, matrix_b K x N, the accumulator M x N; stored row by row.
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = rows * cols;
  using element_type = T;
  T x[num_elements];
};

template <class Use, int M, int N, int K, class T, class Layout, class V>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& value) {
  ::cuda_sim::sync_warp(0xffffffffu);
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = static_cast<T>(value);
}

namespace detail {

template <class F, class P>
void load(F& f, const P* p, unsigned ldm, bool row_major_memory) {
  ::cuda_sim::sync_warp(0xffffffffu);  // other lanes' earlier writes are visible
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] = row_major_memory ? p[r * ldm + c] : p[r + c * ldm];
}

inline float to_float(float v) { return v; }
inline float to_float(__half v) { return __half2float(v); }

}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
  static_assert(!std::is_same_v<Layout, void>, "matrix_a / matrix_b fragments name their layout");
  detail::load(f, p, ldm, std::is_same_v<Layout, row_major>);
}

template <int M, int N, int K, class T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t layout) {
  detail::load(f, p, ldm, layout == mem_row_major);
}

template <int M, int N, int K, class T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout) {
  ::cuda_sim::sync_warp(0xffffffffu);
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) (layout == mem_row_major ? p[r * ldm + c] : p[r + c * ldm]) = f.x[r * N + c];
  ::cuda_sim::sync_warp(0xffffffffu);  // the tile is complete before any lane reads it back
}

template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  ::cuda_sim::sync_warp(0xffffffffu);
  TC out[M * N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = detail::to_float(c.x[i * N + j]);
      for (int k = 0; k < K; ++k) sum += detail::to_float(a.x[i * K + k]) * detail::to_float(b.x[k * N + j]);
      out[i * N + j] = static_cast<TC>(sum);
    }
  for (int i = 0; i < M * N; ++i) d.x[i] = out[i];
}

}  // namespace nvcuda::wmma
