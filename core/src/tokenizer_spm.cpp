#include "tessera/core/tokenizer.hpp"

#include <queue>

#include <fmt/format.h>

#include "tessera/core/error.hpp"

namespace tessera {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// GGUF token types (llama.cpp's enum).
constexpr int32_t kTypeControl = 3;
constexpr int32_t kTypeByte = 6;

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;  // a stray continuation byte stands alone
}

std::string escape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == ' ') out += kSpace;
    else out += c;
  }
  return out;
}

// One symbol of the merge: a byte range of the text, linked to neighbours.
struct Symbol {
  std::size_t begin, length;
  int prev, next;
};

struct Bigram {
  int left, right;
  float score;
  std::size_t length;
  // Highest score first; on ties the leftmost pair first.
  bool operator<(const Bigram& other) const {
    return score < other.score || (score == other.score && left > other.left);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
  if (spec_.model != "llama")
    throw Error(fmt::format("tokenizer model '{}' is not a SentencePiece vocabulary (expected \"llama\")", spec_.model),
                TESSERA_ERR_UNSUPPORTED);
  if (spec_.scores.empty()) spec_.scores.assign(spec_.tokens.size(), 0.0f);
  for (std::size_t i = 0; i < spec_.tokens.size(); ++i) ids_.emplace(spec_.tokens[i], static_cast<int32_t>(i));
  for (int b = 0; b < 256; ++b) {
    const auto it = ids_.find(fmt::format("<0x{:02X}>", b));
    byte_tokens_[b] = it == ids_.end() ? -1 : it->second;
  }
}

bool SpmTokenizer::is_control(int32_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < spec_.token_types.size() && spec_.token_types[id] == kTypeControl;
}

void SpmTokenizer::resegment(std::string_view symbol, std::vector<int32_t>& out) const {
  if (const auto it = ids_.find(std::string(symbol)); it != ids_.end()) {
    out.push_back(it->second);
    return;
  }
  // Not a piece: byte fallback, one token per byte.
  for (unsigned char byte : symbol) {
    const int32_t id = byte_tokens_[byte];
    if (id >= 0) out.push_back(id);
    else if (spec_.unknown_id >= 0) out.push_back(spec_.unknown_id);
  }
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view raw, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && spec_.bos_id >= 0) out.push_back(spec_.bos_id);
  if (raw.empty()) return out;
  const std::string text = escape_spaces(spec_.add_space_prefix ? " " + std::string(raw) : std::string(raw));

  std::vector<Symbol> symbols;
  for (std::size_t offset = 0; offset < text.size();) {
    const std::size_t length = std::min(utf8_length(static_cast<unsigned char>(text[offset])), text.size() - offset);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({offset, length, index - 1, offset + length < text.size() ? index + 1 : -1});
    offset += length;
  }

  std::priority_queue<Bigram> queue;
  auto try_bigram = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::size_t length = symbols[left].length + symbols[right].length;
    const auto it = ids_.find(text.substr(symbols[left].begin, length));
    if (it == ids_.end()) return;
    queue.push({left, right, spec_.scores[static_cast<std::size_t>(it->second)], length});
  };
  for (std::size_t i = 1; i < symbols.size(); ++i) try_bigram(static_cast<int>(i - 1), static_cast<int>(i));

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Skip pairs made stale by an earlier merge.
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_bigram(left.prev, bigram.left);
    try_bigram(bigram.left, left.next);
  }
  for (int i = 0; i >= 0 && !symbols.empty(); i = symbols[i].next)
    resegment(std::string_view(text).substr(symbols[i].begin, symbols[i].length), out);
  return out;
}

std::string piece_text(const std::string& token, bool is_byte) {
  if (is_byte && token.size() == 6 && token.rfind("<0x", 0) == 0)
    return std::string(1, static_cast<char>(std::stoi(token.substr(3, 2), nullptr, 16)));
  std::string out;
  for (std::size_t i = 0; i < token.size();) {
    if (token.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += token[i++];
    }
  }
  return out;
}

std::string SpmTokenizer::piece(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= spec_.tokens.size()) return {};
  const int32_t type = static_cast<std::size_t>(id) < spec_.token_types.size() ? spec_.token_types[id] : 1;
  if (type == kTypeControl) return {};
  return piece_text(spec_.tokens[id], type == kTypeByte);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  StreamingDetokenizer stream(*this);
  std::string out;
  for (int32_t id : ids) out += stream.push(id);
  return out + stream.flush();
}

std::string StreamingDetokenizer::push(int32_t id) {
  std::string text = tokenizer_.piece(id);
  if (tokenizer_.is_control(id)) return {};
  // The encoder put a space in front of the text; take it off again.
  if (first_ && !text.empty()) {
    if (tokenizer_.adds_space_prefix() && text[0] == ' ') text.erase(0, 1);
    first_ = false;
  }
  pending_ += text;
  // Emit everything up to the last complete UTF-8 character.
  std::size_t complete = 0;
  for (std::size_t i = 0; i < pending_.size();) {
    const std::size_t length = utf8_length(static_cast<unsigned char>(pending_[i]));
    if (i + length > pending_.size()) break;
    i += length;
    complete = i;
  }
  std::string ready = pending_.substr(0, complete);
  pending_.erase(0, complete);
  return ready;
}

std::string StreamingDetokenizer::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace tessera
