// Which op runs on which first-source dtype: the single source of truth for
// supports_op and for each op's dtype check.
#include <algorithm>

#include "ops.hpp"
#include "tessera/cpp/op_checks.hpp"

namespace tessera::cpu {
namespace {

namespace dt = sdk::op_dtypes;

const OpEntry kOps[] = {
    {TESSERA_OP_GET_ROWS, dt::dequantizable, op_get_rows},
    {TESSERA_OP_RMS_NORM, dt::f32, op_rms_norm},
    {TESSERA_OP_MUL, dt::f32, op_mul},
    {TESSERA_OP_ADD, dt::f32, op_add},
    {TESSERA_OP_MUL_MAT, dt::mul_mat_weights, op_mul_mat},
    {TESSERA_OP_ROPE, dt::f32, op_rope},
    {TESSERA_OP_SOFTMAX, dt::f32, op_softmax},
    {TESSERA_OP_SILU, dt::f32, op_silu},
    {TESSERA_OP_SWIGLU, dt::f32, op_swiglu},
    {TESSERA_OP_COPY, dt::f32_f16, op_copy},
    {TESSERA_OP_SCALE, dt::f32, op_scale},
    {TESSERA_OP_ATTENTION, dt::kv_cache, op_attention},  // dtype: the KV cache's
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
