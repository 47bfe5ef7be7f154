// Entry points of the AVX-512 translation units (compiled with AVX-512
// flags; only called after the CPU was checked). Each returns the kernel
// for `dtype`, or nullptr when its family does not hold that dtype.
#pragma once

#include <cstdint>

#include "attention_job.hpp"
#include "matmul_job.hpp"

namespace tessera::cpu::avx512 {

MatMulFn float_kernel(int32_t dtype);      // F32, F16, BF16: decode to float, FMA
MatMulFn legacy_kernel(int32_t dtype);     // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL
MatMulFn kquant_kernel(int32_t dtype);     // Q2_K .. Q8_K, IQ4_XS
MatMulFn bf16_dot_kernel();                // BF16 with vdpbf16ps (needs AVX512_BF16)
MatMulFn vnni_kernel(int32_t dtype);       // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL: int8 activations, vpdpbusd (needs AVX512_VNNI)
MatMulFn kquant_vnni_kernel(int32_t dtype);  // Q2_K .. Q6_K, IQ4_XS: Q8_K activations, vpdpbusd (needs AVX512_VNNI)
MatMulFn gptq_kernel(int32_t dtype);       // GPTQ_4BIT, GPTQ_8BIT, packed codes read directly
MatMulFn gptq_vnni_kernel(int32_t dtype);  // the same, int8 activations in mat-vec (needs AVX512_VNNI)
AttentionFn attention_kernel(int32_t kv_dtype, int64_t head_dim);  // F32 / F16 / Q8_0 caches, head_dim <= 256

}  // namespace tessera::cpu::avx512
