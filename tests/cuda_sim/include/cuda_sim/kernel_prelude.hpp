// Included before every kernel file compiled for cuda_sim (-include): gives
// the CUDA keywords their CPU meaning, then poses as the device pass of nvcc
// (__CUDA_ARCH__) so the kernels' device branches are the ones simulated.
#pragma once

#define __global__
#define __device__
#define __host__
#define __constant__
// Each kernel instantiation's __shared__ arrays are function statics: shared
// by the threads of a block, as blocks run one at a time.
#define __shared__ static
#define __launch_bounds__(...)

// The toolkit's half / bfloat16 types, included while __CUDA_ARCH__ is still
// unset so they take their host implementations.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define __CUDA_ARCH__ 900
// For the rare device code that has no CPU meaning (inline PTX): guard it
// with `#if !defined(TESSERA_CUDA_SIM)` and give the simulator an equivalent.
#define TESSERA_CUDA_SIM 1
