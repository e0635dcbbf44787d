// Turns tokens into text as they arrive (generation), never splitting a multi-byte UTF-8
// character across two outputs: bytes of a character that is not complete yet are held back
// until the token that completes it arrives. Bytes that can never become valid UTF-8 are passed
// on as they are, not held.
//
// With at_text_start = true the concatenated outputs equal Tokenizer::decode() of all tokens
// pushed (the leading-space rule included); with false (the default: the tokens continue a
// prompt) every token contributes exactly its token_to_piece().
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {

class StreamingDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool render_special = false,
                            bool at_text_start = false);

  // Adds one token; returns the text that is now complete (possibly empty).
  std::string push(std::int32_t id);
  // Returns whatever is still held back (an incomplete character, as raw bytes) and resets.
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  bool strip_leading_space_;
  std::string pending_;
};

}  // namespace lockstep::tokenizer
