// Kernel-side built-ins of cuda_sim: thread coordinates, barriers, warp
// shuffles, atomics and the intrinsics the cuda plugin's kernels use. Each
// simulated thread is a fiber (scheduler.cpp); barriers and shuffles switch
// fibers, so they behave like Volta's independent thread scheduling: a
// shuffle or __syncthreads that not every live thread reaches is reported as
// a deadlock instead of hanging.
#pragma once

#include <vector_types.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace cuda_sim {

uint3 thread_idx();
uint3 block_idx();
dim3 block_dim();
dim3 grid_dim();
void sync_threads();
void sync_warp(unsigned mask);
// Warp collective: every live lane of the warp passes its value; each gets
// the value of lane `src_lane` (its own value when src_lane is outside 0-31).
uint64_t exchange(unsigned mask, uint64_t value, int src_lane);
int lane_id();
void* dynamic_shared_base();
template <class T>
T* dynamic_shared() {
  return static_cast<T*>(dynamic_shared_base());
}

template <class T>
T shuffle_from(unsigned mask, T value, int src_lane) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "cuda_sim shuffles values of up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof value);
  bits = exchange(mask, bits, src_lane);
  T out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace cuda_sim

#define threadIdx (::cuda_sim::thread_idx())
#define blockIdx (::cuda_sim::block_idx())
#define blockDim (::cuda_sim::block_dim())
#define gridDim (::cuda_sim::grid_dim())
constexpr int warpSize = 32;

inline void __syncthreads() { ::cuda_sim::sync_threads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::cuda_sim::sync_warp(mask); }

template <class T>
T __shfl_sync(unsigned mask, T value, int src_lane, int width = 32) {
  const int lane = ::cuda_sim::lane_id();
  return ::cuda_sim::shuffle_from(mask, value, (lane / width) * width + src_lane % width);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
  const int lane = ::cuda_sim::lane_id(), src = lane ^ lane_mask;
  // A source outside the lane's segment of `width` lanes yields its own value.
  return ::cuda_sim::shuffle_from(mask, value, src / width == lane / width ? src : lane);
}
template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  const int lane = ::cuda_sim::lane_id(), src = lane + static_cast<int>(delta);
  return ::cuda_sim::shuffle_from(mask, value, src / width == lane / width ? src : lane);
}
template <class T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  const int lane = ::cuda_sim::lane_id(), src = lane - static_cast<int>(delta);
  return ::cuda_sim::shuffle_from(mask, value, src >= 0 && src / width == lane / width ? src : lane);
}

// Device code's global min / max, for any mix of arithmetic types.
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
std::common_type_t<A, B> min(A a, B b) {
  return b < a ? b : a;
}
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
std::common_type_t<A, B> max(A a, B b) {
  return a < b ? b : a;
}

template <class T>
T __ldg(const T* p) {
  return *p;
}

// Atomics: fibers switch only at barriers and one kernel runs at a time, so
// a plain read-modify-write is atomic here.
template <class T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
template <class T>
T atomicMax(T* address, T value) {
  const T old = *address;
  if (value > old) *address = value;
  return old;
}
template <class T>
T atomicMin(T* address, T value) {
  const T old = *address;
  if (value < old) *address = value;
  return old;
}
template <class T>
T atomicExch(T* address, T value) {
  const T old = *address;
  *address = value;
  return old;
}
template <class T>
T atomicOr(T* address, T value) {
  const T old = *address;
  *address = old | value;
  return old;
}
template <class T>
T atomicCAS(T* address, T compare, T value) {
  const T old = *address;
  if (old == compare) *address = value;
  return old;
}

// Bit casts and fast math.
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline float __uint_as_float(unsigned v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  std::memcpy(&v, &f, 4);
  return v;
}
inline unsigned __float_as_uint(float f) {
  unsigned v;
  std::memcpy(&v, &f, 4);
  return v;
}
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(static_cast<unsigned>(v)); }

// PRMT: byte n of the result is the byte of {y, x} (x the low word) that
// selector nibble n names; bit 3 of a nibble replicates that byte's sign.
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  const uint64_t bytes = (static_cast<uint64_t>(y) << 32) | x;
  unsigned out = 0;
  for (int n = 0; n < 4; ++n) {
    const unsigned nibble = (s >> (4 * n)) & 0xFu;
    unsigned b = static_cast<unsigned>(bytes >> (8 * (nibble & 7u))) & 0xFFu;
    if (nibble & 8u) b = (b & 0x80u) ? 0xFFu : 0u;
    out |= b << (8 * n);
  }
  return out;
}
