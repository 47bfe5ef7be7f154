#include "tessera/core/spm_placeholder.hpp"

#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "tessera/core/error.hpp"

namespace tessera {
namespace {

// Protocol buffer wire format, just what ModelProto needs.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void put_tag(std::string& out, uint32_t field, uint32_t wire) { put_varint(out, (uint64_t{field} << 3) | wire); }
void put_int(std::string& out, uint32_t field, int64_t v) {
  put_tag(out, field, 0);
  put_varint(out, static_cast<uint64_t>(v));  // negative int32: ten-byte two's complement
}
void put_bytes(std::string& out, uint32_t field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_float(std::string& out, uint32_t field, float f) {
  put_tag(out, field, 5);
  char b[4];
  std::memcpy(b, &f, 4);
  out.append(b, 4);
}

// sentencepiece_model.proto: SentencePiece.Type values.
enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6 };

}  // namespace

void write_placeholder_spm_model(const std::filesystem::path& path, int64_t vocab_size) {
  if (vocab_size < 259)
    throw Error(fmt::format("a placeholder tokenizer needs at least 259 pieces (3 special + 256 bytes), not {}",
                            vocab_size),
                TESSERA_ERR_INVALID_ARGUMENT);
  std::string model;
  for (int64_t i = 0; i < vocab_size; ++i) {
    std::string piece_text;
    int type = kNormal;
    if (i == 0) piece_text = "<unk>", type = kUnknown;
    else if (i == 1) piece_text = "<s>", type = kControl;
    else if (i == 2) piece_text = "</s>", type = kControl;
    else if (i < 259) piece_text = fmt::format("<0x{:02X}>", i - 3), type = kByte;
    else piece_text = fmt::format("\xE2\x96\x81t{}", i);
    std::string piece;
    put_bytes(piece, 1, piece_text);
    put_float(piece, 2, i < 259 ? 0.0f : -static_cast<float>(i));
    put_int(piece, 3, type);
    put_bytes(model, 1, piece);  // ModelProto.pieces
  }
  std::string trainer;  // TrainerSpec
  put_int(trainer, 3, 2);  // model_type BPE
  put_int(trainer, 4, vocab_size);
  put_int(trainer, 35, 1);  // byte_fallback
  put_int(trainer, 40, 0);  // unk_id
  put_int(trainer, 41, 1);  // bos_id
  put_int(trainer, 42, 2);  // eos_id
  put_int(trainer, 43, -1);  // pad_id: none
  put_bytes(model, 2, trainer);
  std::string normalizer;  // NormalizerSpec: LLaMA's, no text normalization
  put_bytes(normalizer, 1, "identity");
  put_int(normalizer, 3, 1);  // add_dummy_prefix
  put_int(normalizer, 4, 0);  // remove_extra_whitespaces
  put_bytes(model, 3, normalizer);

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(model.data(), static_cast<std::streamsize>(model.size()));
  if (!out) throw Error(fmt::format("{}: cannot write", path.string()), TESSERA_ERR_IO);
}

}  // namespace tessera
