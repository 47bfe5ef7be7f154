// The framing of fuzz_hf_directory's input, shared with its seed writer:
// config.json, quantize_config.json and model.safetensors.index.json (JSON
// text, which holds no raw 0x01), each ended by kSeparator, then the
// safetensors bytes (the rest of the input, which may hold anything).
#pragma once

#include <string>
#include <string_view>

namespace tessera::test::fuzz {

inline constexpr std::string_view kSeparator = "\n\x01\n";

struct HfDirectoryParts {
  std::string_view config, quantize_config, index, safetensors;  // empty: no such file
};

inline HfDirectoryParts split_hf_directory_input(std::string_view in) {
  HfDirectoryParts p;
  for (std::string_view* text : {&p.config, &p.quantize_config, &p.index}) {
    const auto at = in.find(kSeparator);
    *text = in.substr(0, at);
    in = at == std::string_view::npos ? std::string_view{} : in.substr(at + kSeparator.size());
  }
  p.safetensors = in;
  return p;
}

inline std::string join_hf_directory_input(std::string_view config, std::string_view quantize_config,
                                           std::string_view index, std::string_view safetensors) {
  std::string s;
  for (std::string_view text : {config, quantize_config, index}) s.append(text).append(kSeparator);
  return s.append(safetensors);
}

}  // namespace tessera::test::fuzz
