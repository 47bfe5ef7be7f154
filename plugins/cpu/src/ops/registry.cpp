// Which op runs on which first-source dtype: the single source of truth for
// supports_op and for each op's dtype check.
#include <algorithm>
#include <array>

#include "ops.hpp"

namespace tessera::cpu {
namespace {

constexpr std::array<int32_t, 1> kF32 = {TESSERA_DTYPE_F32};
constexpr std::array<int32_t, 2> kF32F16 = {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16};
// KV cache types: attention reads them, copy writes them.
constexpr std::array<int32_t, 3> kKvCache = {TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0};
// Weights: every type the SDK's reference dequantizer reads.
constexpr std::array<int32_t, 16> kWeights = {
    TESSERA_DTYPE_F32,  TESSERA_DTYPE_F16,  TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1,
    TESSERA_DTYPE_Q5_0, TESSERA_DTYPE_Q5_1, TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K,
    TESSERA_DTYPE_Q4_K, TESSERA_DTYPE_Q5_K, TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL,
    TESSERA_DTYPE_IQ4_XS};

// mul_mat weights: the above and the GPTQ layouts (3-bit on the scalar path).
constexpr std::array<int32_t, 19> kMatMulWeights = {
    TESSERA_DTYPE_F32,       TESSERA_DTYPE_F16,       TESSERA_DTYPE_BF16, TESSERA_DTYPE_Q4_0, TESSERA_DTYPE_Q4_1,
    TESSERA_DTYPE_Q5_0,      TESSERA_DTYPE_Q5_1,      TESSERA_DTYPE_Q8_0, TESSERA_DTYPE_Q2_K, TESSERA_DTYPE_Q3_K,
    TESSERA_DTYPE_Q4_K,      TESSERA_DTYPE_Q5_K,      TESSERA_DTYPE_Q6_K, TESSERA_DTYPE_Q8_K, TESSERA_DTYPE_IQ4_NL,
    TESSERA_DTYPE_IQ4_XS,    TESSERA_DTYPE_GPTQ_4BIT, TESSERA_DTYPE_GPTQ_8BIT, TESSERA_DTYPE_GPTQ_3BIT};

const OpEntry kOps[] = {
    {TESSERA_OP_GET_ROWS, kWeights, op_get_rows},
    {TESSERA_OP_RMS_NORM, kF32, op_rms_norm},
    {TESSERA_OP_MUL, kF32, op_mul},
    {TESSERA_OP_ADD, kF32, op_add},
    {TESSERA_OP_MUL_MAT, kMatMulWeights, op_mul_mat},
    {TESSERA_OP_ROPE, kF32, op_rope},
    {TESSERA_OP_SOFTMAX, kF32, op_softmax},
    {TESSERA_OP_SILU, kF32, op_silu},
    {TESSERA_OP_SWIGLU, kF32, op_swiglu},
    {TESSERA_OP_COPY, kF32F16, op_copy},
    {TESSERA_OP_SCALE, kF32, op_scale},
    {TESSERA_OP_ATTENTION, kKvCache, op_attention},  // dtype: the KV cache's
};

}  // namespace

const OpEntry* find_op(int32_t op) {
  for (const OpEntry& e : kOps)
    if (e.op == op) return &e;
  return nullptr;
}

bool supports(int32_t op, int32_t src0_dtype) {
  const OpEntry* e = find_op(op);
  return e != nullptr && std::find(e->src0_dtypes.begin(), e->src0_dtypes.end(), src0_dtype) != e->src0_dtypes.end();
}

}  // namespace tessera::cpu
