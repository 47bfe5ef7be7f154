// One ATTENTION as the AVX-512 kernel sees it: plain pointers, sizes and
// byte strides only (like MatMulJob, so nothing compiled with AVX-512 flags
// is shared with portable code). Semantics in sdk/include/tessera/types.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::cpu {

class ThreadPool;

struct AttentionJob {
  int64_t head_dim = 0, heads = 0, kv_heads = 0, tokens = 0;
  int64_t first = 0;     // position of the first query token; query t sees 0 .. first + t
  int64_t cache_len = 0;  // positions the cache holds (bounds every read)
  float scale = 1.0f;
  const std::byte* q = nullptr;  // F32 [D, H, T]
  uint64_t q_nb1 = 0, q_nb2 = 0;
  const std::byte* k = nullptr;  // [D, Hkv, C], F32 or F16, rows contiguous
  uint64_t k_nb1 = 0, k_nb2 = 0;
  const std::byte* v = nullptr;
  uint64_t v_nb1 = 0, v_nb2 = 0;
  std::byte* dst = nullptr;  // F32 [D, H, T]
  uint64_t d_nb1 = 0, d_nb2 = 0;
};

using AttentionFn = void (*)(const AttentionJob& job, ThreadPool& pool);

}  // namespace tessera::cpu
