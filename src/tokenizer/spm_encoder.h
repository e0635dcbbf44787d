// SentencePiece-style encoding of one run of plain text, as llama.cpp's llm_tokenizer_spm: the
// text (already prefixed and with ' ' turned into '▁' by the caller) starts as one symbol per
// UTF-8 character; the adjacent pair whose concatenation is the highest-scoring token is merged
// (ties: leftmost pair first) until no pair forms a token. Symbols that are tokens are emitted;
// any other symbol (a character outside the vocabulary, or a byte of invalid UTF-8) is emitted as
// its <0xXX> byte tokens, or the unknown token where the byte has none (dropped when there is
// no unknown token either).
//
// Only mergeable tokens (token_index.h) take part, and tokens with score -inf never merge (the
// Hugging Face loader uses that for tokens no merge rule produces). Work is O(n log n) in the
// length of the text, with one hash lookup of at most the longest token's length per pair.
//
// Speed-up with the same result: when no mergeable token has a '▁' right after another
// character (true of SentencePiece vocabularies trained with split_by_whitespace, Llama's and
// Phi-3's included), no merge can cross the start of a word, so the text is cut before each '▁'
// that follows another character and the words are merged one at a time (small queues instead
// of one the size of the text).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/token_index.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

class SpmEncoder {
 public:
  // `vocabulary` and `mergeable` must outlive the encoder. `byte_tokens[b]` is the token for
  // byte b (its <0xXX> token, else the unknown token, else -1: the byte is dropped).
  SpmEncoder(const Vocabulary& vocabulary, const TokenIndex& mergeable,
             const std::array<std::int32_t, 256>& byte_tokens);

  // Appends the tokens of `text` to `out`.
  void encode(std::string_view text, std::vector<std::int32_t>& out) const;

 private:
  void encode_chunk(std::string_view text, std::vector<std::int32_t>& out) const;

  const Vocabulary& vocabulary_;
  const TokenIndex& mergeable_;
  std::array<std::int32_t, 256> byte_tokens_;
  bool split_at_words_ = false;  // see above
};

}  // namespace lockstep::tokenizer
