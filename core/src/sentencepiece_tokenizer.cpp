#include "tessera/core/sentencepiece_tokenizer.hpp"

#include <sentencepiece_processor.h>

#include <fmt/format.h>

#include "tessera/core/error.hpp"

namespace tessera {

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = processor_->Load(model_file.string());
  if (!status.ok())
    throw Error(fmt::format("{}: not a SentencePiece model: {}", model_file.string(), status.ToString()),
                TESSERA_ERR_FORMAT);
  for (int i = 0; i < processor_->GetPieceSize(); ++i) pieces_.push_back(processor_->IdToPiece(i));
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (!text.empty()) {
    const auto status = processor_->Encode(std::string(text), &ids);
    if (!status.ok()) throw Error("sentencepiece could not encode the text: " + status.ToString());
  }
  std::vector<int32_t> out;
  if (add_bos && bos_id() >= 0) out.push_back(bos_id());
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

std::string SentencePieceTokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size() || processor_->IsControl(id)) return {};
  return piece_text(pieces_[static_cast<std::size_t>(id)], processor_->IsByte(id));
}

bool SentencePieceTokenizer::is_control(int32_t id) const {
  return id >= 0 && id < vocab_size() && processor_->IsControl(id);
}

int32_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }
int32_t SentencePieceTokenizer::bos_id() const { return processor_->bos_id(); }
int32_t SentencePieceTokenizer::eos_id() const { return processor_->eos_id(); }

}  // namespace tessera
