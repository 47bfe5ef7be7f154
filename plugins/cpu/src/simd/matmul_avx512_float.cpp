// AVX-512 mul_mat for F32, F16 and BF16 weights (float decode + FMA).
#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "decode_avx512_float.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {

MatMulFn float_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_F32: return run<DecodeF32>;
    case TESSERA_DTYPE_F16: return run<DecodeF16>;
    case TESSERA_DTYPE_BF16: return run<DecodeBF16>;
    default: return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
