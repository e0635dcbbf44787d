// Text <-> token ids for a Vocabulary (SentencePiece-style or byte-level BPE), matching
// llama.cpp's tokenizer (and so the Hugging Face tokenizers its test vectors come from).
//
// encode(text, add_special, parse_special, literal):
//   1. Special-token texts are found first (special_token_splitter.h): user-defined tokens
//      always, control/unknown tokens (<s>, <|im_start|>, ...) only with parse_special and
//      outside the `literal` byte ranges of text (a chat prompt's message content,
//      chat_template.h); elsewhere they are plain text like any other. Literal spans that no
//      control / unknown token's text overlaps change nothing.
//   2. Each run of plain text between them is encoded on its own:
//      - SentencePiece: ' ' is prepended when add_space_prefix is set (so after every special
//        token too), every ' ' becomes '▁', then spm_encoder.h. Invalid UTF-8 passes through:
//        each bad byte becomes its <0xXX> byte token, so decode() gives the bytes back. (A '▁'
//        typed in the input is indistinguishable from a space and decodes as one.)
//      - Byte-level BPE: invalid UTF-8 is first replaced by U+FFFD, one per bad byte (as
//        llama.cpp; the split regexes need valid UTF-8, and Hugging Face accepts nothing else),
//        a ' ' is prepended if add_space_prefix is set and the run does not start with one, the
//        run is split by the pre-tokenizer regexes (regex_splitter.h) and each piece is merged
//        by rank (bpe_encoder.h).
//      A byte the vocabulary has no token for becomes the unknown token, or is dropped when there
//      is none (llama.cpp and Hugging Face drop it too; Falcon's vocabulary lacks a few control
//      characters).
//   3. add_special puts BOS in front when vocabulary.add_bos and EOS at the end when add_eos.
//      A text that itself starts with the BOS text and is encoded with parse_special = true and
//      add_special = true gets two BOS tokens: chat_template.h's prompts leave the first BOS out.
//
// decode / token_to_piece: control and unknown tokens give "" unless render_special (then their
// text); user-defined tokens give their text; byte tokens their byte; normal tokens their text
// with '▁' -> ' ' (SentencePiece) or byte-level characters -> bytes (BPE); unused and undefined
// tokens give "" unless render_special. SentencePiece with add_space_prefix: decode() drops one
// leading ' ' of the first non-empty piece (the one encode() added), so decode(encode(x)) == x
// for any text without special-token texts. With special tokens in the middle, the space encode()
// prepends after each of them stays in the decoded text (as in llama.cpp and Hugging Face).
// No "clean up tokenization spaces" is applied to BPE output: decode(encode(x)) == x for valid
// UTF-8 x whose bytes all have tokens.
//
// Differences from llama.cpp, all outside its test vectors: SentencePiece merging never produces
// control / unknown / byte / unused tokens from plain text (as SentencePiece itself; llama.cpp
// would let "<s>"-like text merge into a control token), and Hugging Face lstrip / rstrip around
// special tokens is not modelled.
//
// Thread-safe: all const methods may run concurrently. Token ids outside [0, n_vocab) given to
// decode / token_to_piece / token_text throw lockstep::Error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/text_span.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

class Tokenizer {
 public:
  // Validates `vocabulary` (validate_vocabulary) and compiles its pre-tokenizer regexes; throws
  // lockstep::Error naming vocabulary.source when either fails.
  explicit Tokenizer(Vocabulary vocabulary);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // `literal`: sorted, non-overlapping byte ranges of text (else lockstep::Error).
  std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special,
                                   std::span<const TextSpan> literal = {}) const;

  // A lower bound on encode(text, add_special, ...).size(), whatever parse_special and literal
  // are, from the bytes of `text` alone: O(text.size()), nothing allocated. A caller can refuse
  // a text too long for a context before paying for its encoding.
  std::int64_t min_token_count(std::string_view text, bool add_special) const;
  // The most bytes of input text one token can stand for, computed once from the vocabulary:
  // a special token's text (matched as written), a byte token's byte, and a normal token's
  // piece: SentencePiece counts its text as stored, because an input '▁' (3 bytes) stays '▁'
  // while an input ' ' becomes one; byte-level BPE counts the bytes its byte-level characters
  // stand for (an "ĠĠĠĠ" token is 4 spaces, not 8 bytes).
  std::size_t max_token_bytes() const;

  // The bytes one token stands for (see above).
  std::string token_to_piece(std::int32_t id, bool render_special = false) const;
  // The text of a sequence of tokens (see above).
  std::string decode(std::span<const std::int32_t> ids, bool render_special = false) const;

  std::int32_t n_vocab() const;
  VocabKind kind() const;
  std::optional<std::int32_t> bos_id() const;
  std::optional<std::int32_t> eos_id() const;
  // EOS, EOT, EOM and the vocabulary's other end-of-generation ids.
  bool is_end_of_generation(std::int32_t id) const;
  // The token's text as stored in the vocabulary ('▁', byte-level characters and all).
  const std::string& token_text(std::int32_t id) const;
  TokenType token_type(std::int32_t id) const;
  const Vocabulary& vocabulary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockstep::tokenizer
