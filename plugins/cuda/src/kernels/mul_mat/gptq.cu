// GPTQ weights (tessera/gptq.h, reference math in tessera/quant/gptq.hpp).
//
// Mat-vec: one thread per output column n, blocks split K into
// kGptqSplitRows-row ranges. Loads of qweight / scales / zeros are coalesced
// across n; the block's rows of x, gathered through perm, sit in shared
// memory and are broadcast. Each 32-row packing unit lies in one group, so a
// thread sums q * x over the unit and applies the group's scale and zero
// once (gptq_group_dot). Every split writes its partial sums to the
// Workspace and a second kernel adds them in split order (deterministic).
//
// GEMM path: columns are dequantized to f16 in the sorted input order and x
// is gathered into that order (x[perm[k]]), so the product is unchanged.
//
// The header lives in device memory; kernels read it there and check it
// against the node's shape. A tensor that fails (or a perm entry outside
// [0, K)) yields NaN outputs instead of reads out of bounds.
#include <cstdint>
#include <type_traits>

#include "kernels/common.cuh"
#include "kernels/mul_mat/gptq_unit.cuh"
#include "kernels/mul_mat/internal.cuh"
#include "kernels/mul_mat/plan.hpp"
#include "tessera/gptq.h"
#include "tessera/quant/gptq.hpp"

namespace tessera::cuda::mm {
namespace {

constexpr int kThreads = 256;
constexpr int kSplit = static_cast<int>(kGptqSplitRows);
constexpr int kUnit = kGptqUnitRows;
constexpr int kRows = static_cast<int>(kMatVecMaxRows);
static_assert(kSplit % kUnit == 0, "splits hold whole packing units");
constexpr int kSplitUnits = kSplit / kUnit;  // packing units per split: a thread's loads

__device__ bool section_ok(uint64_t offset, uint64_t bytes, uint64_t total) {
  return offset >= sizeof(tessera_gptq_header) && offset % 64 == 0 && offset <= total && bytes <= total - offset;
}

// The checks of quant::gptq_check that bound every read (not the perm
// uniqueness scan, which needs O(K) memory).
__device__ bool header_ok(const tessera_gptq_header& h, uint32_t bits, int64_t k, int64_t n) {
  if (h.magic != TESSERA_GPTQ_MAGIC || h.version != TESSERA_GPTQ_LAYOUT_VERSION || h.bits != bits) return false;
  if (h.in_features != static_cast<uint64_t>(k) || h.out_features != static_cast<uint64_t>(n)) return false;
  if (h.group_size == 0 || h.group_size % kUnit != 0) return false;
  const uint64_t groups = (h.in_features + h.group_size - 1) / h.group_size;
  if (h.n_groups != groups) return false;
  const uint64_t K = h.in_features, N = h.out_features;
  return section_ok(h.qweight_offset, K * bits / 32 * N * 4, h.total_bytes) &&
         section_ok(h.scales_offset, groups * N * 2, h.total_bytes) &&
         section_ok(h.zeros_offset, groups * N, h.total_bytes) && section_ok(h.perm_offset, K * 4, h.total_bytes);
}

template <int BITS>
__device__ __forceinline__ void load_unit(const quant::GptqView& g, int64_t unit, int64_t n, uint32_t* w) {
#pragma unroll
  for (int i = 0; i < BITS; ++i) w[i] = __ldg(g.qweight + gptq_unit_word<BITS>(unit, i, g.n, static_cast<uint64_t>(n)));
}

struct GptqArgs {
  const void* weight;
  int64_t k, n;
  const float* x;
  int64_t xs;
  int n_rows;
  float* partials;  // [splits][n_rows][n]
};

template <int BITS>
__global__ void __launch_bounds__(kThreads) gptq_mat_vec(GptqArgs a) {
  __shared__ float xs[kRows][kSplit];           // x[r][perm[k]] for this split's rows
  __shared__ float xsum[kRows][kSplit / kUnit];  // per packing unit: sum of those x
  __shared__ int bad;

  const auto* h = static_cast<const tessera_gptq_header*>(a.weight);
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t split = blockIdx.y, k0 = split * kSplit;
  const int rows = static_cast<int>(min(static_cast<int64_t>(kSplit), a.k - k0));  // a multiple of 32, as K is
  const int units = rows / kUnit;
  if (threadIdx.x == 0) bad = header_ok(*h, BITS, a.k, a.n) ? 0 : 1;
  __syncthreads();
  const bool header_bad = bad != 0;
  const quant::GptqView g = header_bad ? quant::GptqView{} : quant::gptq_view(a.weight);
  // This thread's words, scales and zero points of the whole split are
  // requested now, before x is gathered: they are in flight together and
  // during the gather's barriers, instead of one unit at a time after them.
  // Raw bits only: nothing may wait for them before the compute loop.
  uint32_t w[kSplitUnits][BITS];
  uint16_t scale_bits[kSplitUnits];
  uint8_t zero[kSplitUnits];
  const bool streaming = !header_bad && n < a.n;
#pragma unroll
  for (int u = 0; u < kSplitUnits; ++u) {
    if (streaming && u < units) {
      const int64_t k = k0 + kUnit * u, group = k / g.group_size;
      scale_bits[u] = __ldg(g.scales + static_cast<uint64_t>(group) * g.n + static_cast<uint64_t>(n));
      zero[u] = __ldg(g.zeros + static_cast<uint64_t>(group) * g.n + static_cast<uint64_t>(n));
      load_unit<BITS>(g, k / kUnit, n, w[u]);
    } else {
      scale_bits[u] = 0;
      zero[u] = 0;
#pragma unroll
      for (int i = 0; i < BITS; ++i) w[u][i] = 0;
    }
  }
  __syncthreads();  // everyone has read `bad` before it is reused below
  if (!header_bad) {
    for (int i = threadIdx.x; i < a.n_rows * rows; i += kThreads) {
      const int r = i / rows, kk = i % rows;
      const int32_t p = __ldg(g.perm + k0 + kk);
      if (p < 0 || p >= a.k) {
        bad = 1;
        xs[r][kk] = 0;
      } else {
        xs[r][kk] = __ldg(a.x + r * a.xs + p);
      }
    }
  }
  __syncthreads();
  if (!header_bad) {
    for (int i = threadIdx.x; i < a.n_rows * units; i += kThreads) {
      const int r = i / units, u = i % units;
      float s = 0;
      for (int j = 0; j < kUnit; ++j) s += xs[r][kUnit * u + j];
      xsum[r][u] = s;
    }
  }
  __syncthreads();
  if (n >= a.n) return;
  float acc[kRows] = {};
  if (bad != 0) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r] = __int_as_float(0x7FC00000);  // NaN: a malformed tensor
  } else {
#pragma unroll
    for (int u = 0; u < kSplitUnits; ++u) {
      if (u >= units) break;
      const float scale = half_bits_to_float(scale_bits[u]);
      float qx[kRows] = {};
#pragma unroll
      for (int j = 0; j < kUnit; ++j) {
        const float qv = static_cast<float>(gptq_unit_code<BITS>(w[u], j));
#pragma unroll
        for (int r = 0; r < kRows; ++r)
          if (r < a.n_rows) qx[r] += qv * xs[r][kUnit * u + j];
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        if (r < a.n_rows) acc[r] += quant::gptq_group_dot(scale, zero[u], qx[r], xsum[r][u]);
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r)  // constant indices keep acc in registers
    if (r < a.n_rows) a.partials[(split * a.n_rows + r) * a.n + n] = acc[r];
}

__global__ void __launch_bounds__(kThreads)
    sum_splits(const float* __restrict__ partials, int64_t splits, int64_t n_rows, int64_t n, float* __restrict__ y, int64_t ys) {
  const int64_t total = n_rows * n;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * kThreads) {
    float s = 0;
    for (int64_t i = 0; i < splits; ++i) s += partials[i * total + t];
    y[(t / n) * ys + t % n] = s;
  }
}

template <int BITS>
__global__ void __launch_bounds__(kThreads) gptq_gather_x(GptqArgs a, uint16_t* __restrict__ out) {
  const auto* h = static_cast<const tessera_gptq_header*>(a.weight);
  const bool ok = header_ok(*h, BITS, a.k, a.n);
  const quant::GptqView g = ok ? quant::gptq_view(a.weight) : quant::GptqView{};
  const int64_t total = static_cast<int64_t>(a.n_rows) * a.k;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t r = t / a.k, k = t % a.k;
    const int32_t p = ok ? __ldg(g.perm + k) : -1;
    out[t] = (p >= 0 && p < a.k) ? float_to_half_bits(__ldg(a.x + r * a.xs + p)) : uint16_t{0x7E00};  // f16 NaN
  }
}

// Thread per (packing unit, column): 32 codes of column n -> 64 contiguous bytes of out row n - n0.
template <int BITS>
__global__ void __launch_bounds__(kThreads) gptq_dequantize(GptqArgs a, int64_t n0, int64_t cols, uint4* __restrict__ out) {
  const auto* h = static_cast<const tessera_gptq_header*>(a.weight);
  const bool ok = header_ok(*h, BITS, a.k, a.n);
  const quant::GptqView g = ok ? quant::gptq_view(a.weight) : quant::GptqView{};
  const int64_t units = a.k / kUnit, total = units * cols;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t c = t % cols, unit = t / cols, n = n0 + c;  // consecutive threads: consecutive columns
    uint32_t halves[kUnit / 2];
    if (ok) {
      const int64_t group = unit * kUnit / g.group_size;
      const float scale = half_bits_to_float(__ldg(g.scales + static_cast<uint64_t>(group) * g.n + static_cast<uint64_t>(n)));
      const uint32_t zero = __ldg(g.zeros + static_cast<uint64_t>(group) * g.n + static_cast<uint64_t>(n));
      uint32_t w[BITS];
      load_unit<BITS>(g, unit, n, w);
#pragma unroll
      for (int j = 0; j < kUnit; j += 2) {
        const uint32_t lo = float_to_half_bits(quant::gptq_weight(scale, gptq_unit_code<BITS>(w, j), zero));
        const uint32_t hi = float_to_half_bits(quant::gptq_weight(scale, gptq_unit_code<BITS>(w, j + 1), zero));
        halves[j / 2] = lo | (hi << 16);
      }
    } else {
#pragma unroll
      for (int j = 0; j < kUnit / 2; ++j) halves[j] = 0x7E007E00u;
    }
    uint4* dst = out + (c * a.k + unit * kUnit) / 8;  // element (c, 32 unit), 8 halves per uint4
#pragma unroll
    for (int i = 0; i < 4; ++i) dst[i] = make_uint4(halves[4 * i], halves[4 * i + 1], halves[4 * i + 2], halves[4 * i + 3]);
  }
}

GptqArgs gptq_args(const MulMatArgs& a) {
  GptqArgs g;
  g.weight = a.weight;
  g.k = a.k;
  g.n = a.n_out;
  g.x = a.x;
  g.xs = a.x_row_stride;
  g.n_rows = static_cast<int>(a.n_rows < kMatVecMaxRows ? a.n_rows : kMatVecMaxRows);
  g.partials = nullptr;
  return g;
}

// The node's shape as the layout requires it; the header is checked on the device.
cudaError_t check_shape(const MulMatArgs& a) {
  if (a.k < kUnit || a.k % kUnit != 0 || a.n_out < 1 || a.n_rows < 1) return cudaErrorInvalidValue;
  if (reinterpret_cast<uintptr_t>(a.weight) % 8 != 0) return cudaErrorMisalignedAddress;
  return cudaSuccess;
}

template <class F>
cudaError_t with_bits(int32_t dtype, F&& f) {
  switch (quant::gptq_bits_of(dtype)) {
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    default: return cudaErrorNotSupported;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_gptq_mat_vec(const MulMatArgs& a, float* partials, cudaStream_t stream) {
  if (cudaError_t e = check_shape(a); e != cudaSuccess) return e;
  if (a.n_rows > kMatVecMaxRows) return cudaErrorInvalidValue;
  GptqArgs g = gptq_args(a);
  g.partials = partials;
  const int64_t splits = gptq_splits(a.k), col_blocks = (a.n_out + kThreads - 1) / kThreads;
  if (splits > 65535 || col_blocks > 0x7FFFFFFF) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(col_blocks), static_cast<unsigned>(splits));
  if (cudaError_t e = with_bits(a.weight_dtype, [&](auto bits) { gptq_mat_vec<decltype(bits)::value><<<grid, kThreads, 0, stream>>>(g); });
      e != cudaSuccess)
    return e;
  sum_splits<<<grid_1d(a.n_rows * a.n_out, kThreads), kThreads, 0, stream>>>(partials, splits, a.n_rows, a.n_out, a.y, a.y_row_stride);
  return cudaGetLastError();
}

cudaError_t launch_gptq_gather_x(const MulMatArgs& a, __half* out, cudaStream_t stream) {
  if (cudaError_t e = check_shape(a); e != cudaSuccess) return e;
  if (a.n_rows > 0x7FFFFFFF) return cudaErrorInvalidValue;
  GptqArgs g = gptq_args(a);
  g.n_rows = static_cast<int>(a.n_rows);  // all rows: the GEMM path has no 8-row limit
  const unsigned grid = grid_1d(a.n_rows * a.k, kThreads);
  return with_bits(a.weight_dtype, [&](auto bits) {
    gptq_gather_x<decltype(bits)::value><<<grid, kThreads, 0, stream>>>(g, reinterpret_cast<uint16_t*>(out));
  });
}

cudaError_t launch_gptq_dequantize_f16(const MulMatArgs& a, int64_t n0, int64_t cols, __half* out, cudaStream_t stream) {
  if (cudaError_t e = check_shape(a); e != cudaSuccess) return e;
  if (n0 < 0 || cols < 1 || n0 + cols > a.n_out) return cudaErrorInvalidValue;
  if (reinterpret_cast<uintptr_t>(out) % 16 != 0) return cudaErrorMisalignedAddress;
  const GptqArgs g = gptq_args(a);
  const unsigned grid = grid_1d(cols * (a.k / kUnit), kThreads);
  return with_bits(a.weight_dtype, [&](auto bits) {
    gptq_dequantize<decltype(bits)::value><<<grid, kThreads, 0, stream>>>(g, n0, cols, reinterpret_cast<uint4*>(out));
  });
}

}  // namespace tessera::cuda::mm
