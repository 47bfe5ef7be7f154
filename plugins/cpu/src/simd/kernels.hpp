// Which mul_mat kernels a backend runs: the backend parameter `kernels`
// (auto | avx512 | vnni | scalar) resolved against the CPU once, at backend_create.
#pragma once

#include <cstdint>
#include <string>

#include "attention_job.hpp"
#include "matmul_job.hpp"

namespace tessera::cpu {

enum class KernelPath { scalar, avx512 };

struct Kernels {
  KernelPath path = KernelPath::scalar;
  bool bf16_dot = false;  // BF16 weights via vdpbf16ps (AVX512_BF16)
  bool int8_dot = false;  // `vnni`: 32-value block types, K-quants, GPTQ on int8 activations (AVX512_VNNI)
  // "avx512 (bf16 dot)" / "scalar": for logs and messages.
  std::string describe() const;
};

// The values `kernels` accepts, for messages and the parameter spec.
inline constexpr const char* kKernelChoices = "auto, avx512, vnni or scalar";

// Resolves a `kernels` value. Throws sdk::Error(INVALID_ARGUMENT) for an
// unknown value and sdk::Error(UNSUPPORTED) for `avx512` / `vnni` on a CPU
// (or OS) without it, naming what is missing. `where` prefixes messages (YAML location).
Kernels select_kernels(const std::string& request, const std::string& where = {});

// Whether this CPU can run the AVX-512 kernels, and if not, why ("" if it can).
std::string avx512_missing();

// The fast kernel for `dtype`, or nullptr: run the scalar reference.
MatMulFn mul_mat_kernel(const Kernels& kernels, int32_t dtype);

// The fast ATTENTION for a KV cache of `kv_dtype` and this head_dim, or
// nullptr: run the scalar reference.
AttentionFn attention_kernel(const Kernels& kernels, int32_t kv_dtype, int64_t head_dim);

}  // namespace tessera::cpu
