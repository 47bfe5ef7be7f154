// GET_ROWS: dst[i, :] = dequantize(table[ids[i], :]) for every GGUF type the
// SDK's reference dequantizer reads, by calling those same TESSERA_HD block
// functions on the device. One block per id; threads take quant blocks.
#include "common.cuh"
#include "launch.hpp"
#include "tessera/quant/dequantize.hpp"

namespace tessera::cuda {
namespace {

__device__ int64_t row_id(const GetRowsArgs& a, int64_t i, bool* ok) {
  const int64_t i0 = i % a.ids_ne0, i1 = (i / a.ids_ne0) % a.ids_ne1, i2 = i / (a.ids_ne0 * a.ids_ne1);
  const int32_t id = *reinterpret_cast<const int32_t*>(a.ids + static_cast<uint64_t>(i0) * a.ids_nb0 +
                                                       static_cast<uint64_t>(i1) * a.ids_nb1 +
                                                       static_cast<uint64_t>(i2) * a.ids_nb2);
  *ok = id >= 0 && id < a.n_table_rows;
  if (!*ok && a.error_word != nullptr) atomicCAS(a.error_word, 0, static_cast<int32_t>(i < 0x7ffffffe ? i + 1 : 0x7fffffff));
  return id;
}

template <class Block, int kElements>
__global__ void get_rows_blocks(GetRowsArgs a) {
  for (int64_t i = blockIdx.x; i < a.n_ids; i += gridDim.x) {
    bool ok = false;
    const int64_t id = row_id(a, i, &ok);
    auto* out = reinterpret_cast<float*>(a.dst + a.dst_rows.offset(i));
    if (!ok) {  // reported through error_word; the row is zeroed, never read out of bounds
      for (int64_t j = threadIdx.x; j < a.k; j += blockDim.x) out[j] = 0.0f;
      continue;
    }
    const auto* blocks = reinterpret_cast<const Block*>(a.table + static_cast<uint64_t>(id) * a.table_row_bytes);
    for (int64_t b = threadIdx.x; b < a.k / kElements; b += blockDim.x)
      quant::dequantize_block(blocks[b], out + b * kElements);
  }
}

template <int DT>
__global__ void get_rows_plain(GetRowsArgs a) {
  for (int64_t i = blockIdx.x; i < a.n_ids; i += gridDim.x) {
    bool ok = false;
    const int64_t id = row_id(a, i, &ok);
    auto* out = reinterpret_cast<float*>(a.dst + a.dst_rows.offset(i));
    const uint8_t* row = a.table + static_cast<uint64_t>(ok ? id : 0) * a.table_row_bytes;
    for (int64_t j = threadIdx.x; j < a.k; j += blockDim.x) {
      float v = 0.0f;
      if (ok) {
        if constexpr (DT == TESSERA_DTYPE_F32) v = reinterpret_cast<const float*>(row)[j];
        else if constexpr (DT == TESSERA_DTYPE_F16) v = half_bits_to_float(reinterpret_cast<const uint16_t*>(row)[j]);
        else v = quant::bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[j]);
      }
      out[j] = v;
    }
  }
}

}  // namespace

cudaError_t launch_get_rows(const GetRowsArgs& a, cudaStream_t stream) {
  if (a.n_ids == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>(a.n_ids < 65535 ? a.n_ids : 65535));
  constexpr int kThreads = 128;
  using namespace quant;
  switch (a.dtype) {
    case TESSERA_DTYPE_F32: get_rows_plain<TESSERA_DTYPE_F32><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_F16: get_rows_plain<TESSERA_DTYPE_F16><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_BF16: get_rows_plain<TESSERA_DTYPE_BF16><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q4_0: get_rows_blocks<BlockQ4_0, 32><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q4_1: get_rows_blocks<BlockQ4_1, 32><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q5_0: get_rows_blocks<BlockQ5_0, 32><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q5_1: get_rows_blocks<BlockQ5_1, 32><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q8_0: get_rows_blocks<BlockQ8_0, 32><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q2_K: get_rows_blocks<BlockQ2_K, 256><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q3_K: get_rows_blocks<BlockQ3_K, 256><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q4_K: get_rows_blocks<BlockQ4_K, 256><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q5_K: get_rows_blocks<BlockQ5_K, 256><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q6_K: get_rows_blocks<BlockQ6_K, 256><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_Q8_K: get_rows_blocks<BlockQ8_K, 256><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_IQ4_NL: get_rows_blocks<BlockIQ4_NL, 32><<<grid, kThreads, 0, stream>>>(a); break;
    case TESSERA_DTYPE_IQ4_XS: get_rows_blocks<BlockIQ4_XS, 256><<<grid, kThreads, 0, stream>>>(a); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace tessera::cuda
