// How far the end of a token sequence repeats earlier in it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tessera::samplers {

// lengths[i], for every i < n - 1: the length of the longest run of tokens
// ending at index i that equals the run ending at the last index, capped at
// `cap`. Linear time: the Z-function of the reversed sequence.
std::vector<std::size_t> repeat_lengths(std::span<const int32_t> tokens, std::size_t cap);

}  // namespace tessera::samplers
