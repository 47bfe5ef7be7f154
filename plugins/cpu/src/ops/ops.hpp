// The ops of the scalar reference path. Each op is one function that first
// validates its node and then, when given a pool, runs it; called with
// pool == nullptr it only validates, so graph_execute can reject a bad graph
// before it has written anything.
#pragma once

#include <cstdint>
#include <span>

#include "../node.hpp"
#include "../simd/kernels.hpp"
#include "../thread_pool.hpp"

namespace tessera::cpu {

// `src0_dtypes`: the first-source dtypes the registry declares for the op,
// so supports_op and the validation can never disagree.
// `kernels`: the backend's choice of fast kernels (mul_mat and attention have some).
using OpFn = void (*)(const Node& node, std::span<const int32_t> src0_dtypes, ThreadPool* pool,
                      const Kernels& kernels);

void op_get_rows(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_rms_norm(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_mul(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_add(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_mul_mat(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_rope(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_softmax(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_silu(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_swiglu(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_copy(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_scale(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);
void op_attention(const Node&, std::span<const int32_t>, ThreadPool*, const Kernels&);

// MUL_MAT with a GPTQ weight (job.w: the tensor's header), scalar reference.
void mul_mat_gptq_reference(const MatMulJob& job, ThreadPool& pool);

struct OpEntry {
  int32_t op;
  std::span<const int32_t> src0_dtypes;
  OpFn fn;
};

// The entry for `op`, or NULL when the cpu plugin does not implement it.
const OpEntry* find_op(int32_t op);

// supports_op: whether `op` runs with a first source of `src0_dtype`.
bool supports(int32_t op, int32_t src0_dtype);

}  // namespace tessera::cpu
