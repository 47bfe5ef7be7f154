// <immintrin.h> for the AVX-512 files. GCC 12's AVX-512 intrinsics start
// some results from _mm512_undefined_*() and then warn about that very value
// (-Wuninitialized inside the system header); silence it for the header's
// lines only, so our own code keeps the warning.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // GCC's alone; clang warns about an unknown group
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
