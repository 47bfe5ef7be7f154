// Runs one kernel launch on the CPU: blocks one after another, the threads of
// a block as fibers that switch at barriers and warp collectives.
#pragma once

#include <vector_types.h>

#include <cstddef>
#include <string>

#include "cuda_sim/launch.hpp"

namespace cuda_sim {

// Runs every block of the grid. Returns an empty string, or what went wrong
// (a barrier that not every live thread reached, a shuffle naming an exited
// lane); the kernel's remaining threads are then abandoned.
std::string run_grid(dim3 grid, dim3 block, size_t shared_bytes, const KernelBody& body);

}  // namespace cuda_sim
