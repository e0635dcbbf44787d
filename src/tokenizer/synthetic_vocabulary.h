// Small vocabularies built in code, for tests, fuzzing and synthetic models: the layout of real
// vocabularies (byte tokens, merged tokens, special tokens) without a file. Both builders mark
// conventional end-of-turn specials (add_conventional_end_of_generation_ids).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

struct SyntheticToken {
  std::string text;
  TokenType type = TokenType::Control;
};

// SentencePiece: <unk> = 0 (unknown), <s> = 1 (control, BOS), </s> = 2 (control, EOS), the byte
// tokens <0x00>..<0xFF> = 3..258, then `pieces` (texts with '▁' for spaces, and scores) in
// order, then `specials`. Adds BOS and a space prefix, as llama.cpp's defaults.
Vocabulary make_sentencepiece_vocabulary(
    const std::vector<std::pair<std::string, float>>& pieces,
    const std::vector<SyntheticToken>& specials = {});

// Byte-level BPE: the 256 byte characters as ids 0..255 in byte order, then the result of each
// merge (given on raw text, e.g. {"h", "e"}) in merge order (each new text once), then
// `specials`. `pre_tokenizer` names the split (pre_tokenizer_catalog.h). No BOS / EOS is set.
Vocabulary make_byte_level_vocabulary(
    const std::vector<std::pair<std::string, std::string>>& merges,
    const std::string& pre_tokenizer, const std::vector<SyntheticToken>& specials = {});

}  // namespace lockstep::tokenizer
