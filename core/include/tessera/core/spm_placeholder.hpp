// A placeholder SentencePiece tokenizer.model for synthetic models: <unk>,
// <s>, </s>, the 256 byte pieces, then numbered pieces "▁t<i>" up to the
// vocabulary size. Enough for the tokenizer code paths of benchmarks.
#pragma once

#include <cstdint>
#include <filesystem>

namespace tessera {

// Writes the serialized ModelProto (BPE, byte fallback, LLaMA's identity
// normalizer). Throws tessera::Error: INVALID_ARGUMENT for vocab_size < 259,
// IO when the file cannot be written.
void write_placeholder_spm_model(const std::filesystem::path& path, int64_t vocab_size);

}  // namespace tessera
