// Run-time choice between the scalar reference and the AVX-512 kernels.
// Portable code: compiled without any ISA flags.
#include <string>

#include "../device.hpp"
#include "avx512_kernels.hpp"
#include "kernels.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/types.h"

namespace tessera::cpu {

std::string Kernels::describe() const {
  if (path == KernelPath::scalar) return "scalar";
  std::string s = "avx512";
  if (bf16_dot) s += " (bf16 dot)";
  if (int8_dot) s += " + vnni int8 mat-vec for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL/Q2_K..Q6_K/IQ4_XS/GPTQ";
  return s;
}

std::string avx512_missing() {
#if !defined(TESSERA_CPU_HAVE_AVX512_KERNELS)
  return "AVX-512 kernels (this build has none: not an x86-64 GCC/Clang build)";
#endif
  const CpuFeatures& f = cpu_features();
  std::string missing;
  const auto need = [&](bool have, const char* name) {
    if (!have) missing += (missing.empty() ? "" : ", ") + std::string(name);
  };
  need(f.avx512f, "AVX512F");
  need(f.avx512bw, "AVX512BW");
  need(f.avx512dq, "AVX512DQ");
  need(f.avx512vl, "AVX512VL");
  need(f.fma, "FMA");
  need(f.f16c, "F16C");
  return missing;
}

Kernels select_kernels(const std::string& request, const std::string& where) {
  Kernels k;
  if (request == "scalar") return k;
  if (request != "auto" && request != "avx512" && request != "vnni")
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     where + "cpu: 'kernels' is '" + request + "', expected " + kKernelChoices);
  const std::string missing = avx512_missing();
  if (!missing.empty()) {
    if (request != "auto")
      throw sdk::Error(TESSERA_ERR_UNSUPPORTED, where + "cpu: 'kernels: " + request +
                                                    "' needs a CPU (and OS) with " + missing +
                                                    ", which this machine lacks; use auto or scalar");
    return k;  // auto: the portable reference path
  }
  if (request == "vnni" && !cpu_features().avx512vnni)
    throw sdk::Error(TESSERA_ERR_UNSUPPORTED, where + "cpu: 'kernels: vnni' needs a CPU with AVX512_VNNI "
                                                      "(vpdpbusd), which this machine lacks; use auto or avx512");
  k.path = KernelPath::avx512;
  k.bf16_dot = cpu_features().avx512bf16;
  // auto takes the int8 kernels (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K ..
  // Q6_K, IQ4_XS) where the CPU has VNNI: their activations are Q8_0 / Q8_K
  // blocks (with q8_1-style code sums for Q4_1 / Q5_1), as
  // llama.cpp computes these types (its reference logits are closer to them
  // than to float activations);
  // GPTQ mat-vec takes int8 activations too (1.5x the 7B GPTQ decode);
  // `avx512` keeps float activations.
  k.int8_dot = request == "vnni" || (request == "auto" && cpu_features().avx512vnni);
  return k;
}

MatMulFn mul_mat_kernel(const Kernels& kernels, int32_t dtype) {
  if (kernels.path != KernelPath::avx512) return nullptr;
#if !defined(TESSERA_CPU_HAVE_AVX512_KERNELS)
  (void)dtype;
  return nullptr;
#else
  if (dtype == TESSERA_DTYPE_BF16 && kernels.bf16_dot) return avx512::bf16_dot_kernel();
  if (kernels.int8_dot) {
    if (MatMulFn f = avx512::vnni_kernel(dtype)) return f;
    if (MatMulFn f = avx512::kquant_vnni_kernel(dtype)) return f;
    if (MatMulFn f = avx512::gptq_vnni_kernel(dtype)) return f;
  }
  if (MatMulFn f = avx512::float_kernel(dtype)) return f;
  if (MatMulFn f = avx512::legacy_kernel(dtype)) return f;
  if (MatMulFn f = avx512::gptq_kernel(dtype)) return f;
  return avx512::kquant_kernel(dtype);
#endif
}

AttentionFn attention_kernel(const Kernels& kernels, int32_t kv_dtype, int64_t head_dim) {
  if (kernels.path != KernelPath::avx512) return nullptr;
#if !defined(TESSERA_CPU_HAVE_AVX512_KERNELS)
  (void)kv_dtype;
  (void)head_dim;
  return nullptr;
#else
  return avx512::attention_kernel(kv_dtype, head_dim);
#endif
}

}  // namespace tessera::cpu
