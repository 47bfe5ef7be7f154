// AVX-512 decoders of the plain float weight types (F32, F16, BF16), in
// blocks of 32 values with a masked partial block at the end of a row
// (their rows may have any length). Include only from AVX-512 files.
#pragma once

#include "avx512_intrin.hpp"

#include <cstddef>

namespace tessera::cpu::avx512 {
namespace {

struct DecodeF32 {
  static constexpr int kValues = 32, kBytes = 128;
  static constexpr bool kTail = true;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto* f = reinterpret_cast<const float*>(p);
    sink(0, _mm512_loadu_ps(f), _mm512_loadu_ps(f + 16));
  }
  template <class Sink>
  static void tail(const std::byte* p, __mmask16 m0, __mmask16 m1, Sink&& sink) {
    const auto* f = reinterpret_cast<const float*>(p);
    sink(0, _mm512_maskz_loadu_ps(m0, f), _mm512_maskz_loadu_ps(m1, f + 16));
  }
};

// F16C conversion is exact, as the scalar reference's.
struct DecodeF16 {
  static constexpr int kValues = 32, kBytes = 64;
  static constexpr bool kTail = true;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    sink(0, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
         _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32))));
  }
  template <class Sink>
  static void tail(const std::byte* p, __mmask16 m0, __mmask16 m1, Sink&& sink) {
    sink(0, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m0, p)), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m1, p + 32)));
  }
};

// BF16 is the top half of an F32: widen and shift.
inline __m512 bf16_to_ps(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

struct DecodeBF16 {
  static constexpr int kValues = 32, kBytes = 64;
  static constexpr bool kTail = true;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    sink(0, bf16_to_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
         bf16_to_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32))));
  }
  template <class Sink>
  static void tail(const std::byte* p, __mmask16 m0, __mmask16 m1, Sink&& sink) {
    sink(0, bf16_to_ps(_mm256_maskz_loadu_epi16(m0, p)), bf16_to_ps(_mm256_maskz_loadu_epi16(m1, p + 32)));
  }
};

}  // namespace
}  // namespace tessera::cpu::avx512
