// What the attention kernels share about the KV cache: one dispatch from
// the cache's type to a kernel instantiated for it, and staging a tile of
// cached positions in shared memory.
#pragma once

#include <type_traits>

#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {

// launch(std::integral_constant<int, KV>{}) for the cache type kv_dtype: the
// one list of the types the attention kernels are instantiated for.
template <class Launch>
cudaError_t with_kv_dtype(int32_t kv_dtype, Launch&& launch) {
  switch (kv_dtype) {
    case TESSERA_DTYPE_F32: return launch(std::integral_constant<int, TESSERA_DTYPE_F32>{});
    case TESSERA_DTYPE_F16: return launch(std::integral_constant<int, TESSERA_DTYPE_F16>{});
    case TESSERA_DTYPE_Q8_0: return launch(std::integral_constant<int, TESSERA_DTYPE_Q8_0>{});
    default: return cudaErrorInvalidValue;
  }
}

template <class T>
__device__ __forceinline__ T tile_value(float v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(v);
  } else {
    return v;
  }
}

// Cached positions first .. first + keys - 1 of KV head kvh into k_s and v_s
// as T (rows k_stride / v_stride elements apart); positions at or past
// kv_end are zeros. Every thread of the block takes a share; the caller
// puts the barriers around it.
template <int KV, class T>
__device__ __forceinline__ void stage_kv_tile(const AttentionArgs& a, int64_t kvh, int64_t first, int64_t keys,
                                              int64_t kv_end, T* k_s, int64_t k_stride, T* v_s, int64_t v_stride) {
  const int64_t D = a.head_dim;
  for (int64_t i = threadIdx.x; i < keys * D; i += blockDim.x) {
    const int64_t key = i / D, d = i % D, p = first + key;
    float kv = 0.0f, vv = 0.0f;
    if (p < kv_end) {
      kv = kv_element<KV>(a.k + static_cast<uint64_t>(p) * a.k_nb2 + static_cast<uint64_t>(kvh) * a.k_nb1, d);
      vv = kv_element<KV>(a.v + static_cast<uint64_t>(p) * a.v_nb2 + static_cast<uint64_t>(kvh) * a.v_nb1, d);
    }
    k_s[key * k_stride + d] = tile_value<T>(kv);
    v_s[key * v_stride + d] = tile_value<T>(vv);
  }
}

}  // namespace tessera::cuda
