// File names of split models as llama.cpp's gguf-split writes them:
// PREFIX-00001-of-00003.gguf ... PREFIX-00003-of-00003.gguf (numbers are
// 1-based and zero-padded to five digits).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::gguf {

struct SplitName {
  std::string prefix;   // everything before "-NNNNN-of-MMMMM.gguf", directory included
  uint32_t number = 0;  // 1-based
  uint32_t count = 0;
};

std::optional<SplitName> parse_split_name(std::string_view path);

// Path of part `number` (1-based) of `count`.
std::string split_part_path(std::string_view prefix, uint32_t number, uint32_t count);

}  // namespace tessera::gguf
