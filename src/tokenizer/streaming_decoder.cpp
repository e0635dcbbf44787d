#include "tokenizer/streaming_decoder.h"

#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool render_special,
                                   bool at_text_start)
    : tokenizer_(&tokenizer),
      render_special_(render_special),
      strip_leading_space_(at_text_start && tokenizer.kind() == VocabKind::SentencePiece &&
                           tokenizer.vocabulary().add_space_prefix) {}

std::string StreamingDecoder::push(std::int32_t id) {
  std::string piece = tokenizer_->token_to_piece(id, render_special_);
  if (strip_leading_space_ && !piece.empty()) {
    if (piece[0] == ' ') piece.erase(0, 1);
    strip_leading_space_ = false;
  }
  pending_ += piece;
  const std::size_t ready = utf8_complete_prefix_length(pending_);
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string StreamingDecoder::finish() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace lockstep::tokenizer
