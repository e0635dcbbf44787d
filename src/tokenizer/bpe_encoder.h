// Byte-level BPE encoding of one pre-tokenized word, as llama.cpp's llm_tokenizer_bpe and
// Hugging Face's BPE model: the word starts as one symbol per byte (the token of the byte's GPT-2
// character), and the adjacent pair with the lowest merge rank is merged (ties: leftmost pair
// first) until no ranked pair is left. Works on token ids: a merge is (left id, right id) ->
// (rank, merged id). Merges whose merged text is not a token are ignored (Hugging Face refuses
// such files). Work is O(n log n) in the length of the word.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/token_index.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

class BpeEncoder {
 public:
  // `byte_tokens[b]` is the token for byte b (its GPT-2 character, else the unknown token, else
  // -1: such bytes are dropped, as llama.cpp and Hugging Face do; Falcon's vocabulary lacks
  // several control characters).
  // `whole_words` finds words that are tokens when vocabulary.ignore_merges is set; it and
  // `vocabulary` must outlive the encoder.
  BpeEncoder(const Vocabulary& vocabulary, const TokenIndex& all_tokens,
             const TokenIndex& whole_words, const std::array<std::int32_t, 256>& byte_tokens);

  // Appends the tokens of `word` (raw bytes, not yet mapped to byte-level characters) to `out`.
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t result;
  };
  static std::uint64_t key(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
           static_cast<std::uint32_t>(right);
  }

  std::unordered_map<std::uint64_t, Merge> merges_;
  const TokenIndex& whole_words_;
  bool ignore_merges_;
  std::array<std::int32_t, 256> byte_tokens_;
};

}  // namespace lockstep::tokenizer
