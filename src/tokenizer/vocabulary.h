// A tokenizer vocabulary as plain data, independent of where it came from (GGUF metadata, a
// Hugging Face tokenizer.json, or code). Loaders fill it and call validate_vocabulary(); the
// Tokenizer validates it again on construction, so a Vocabulary that passed is safe to use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lockstep::tokenizer {

// How text becomes tokens.
enum class VocabKind {
  // 'llama' in GGUF: SentencePiece-style. Spaces become '▁' (U+2581), adjacent pieces are merged
  // by token score, characters outside the vocabulary fall back to <0xXX> byte tokens.
  SentencePiece,
  // 'gpt2' in GGUF: byte-level BPE. Text is split by pre-tokenizer regexes, bytes are mapped to
  // GPT-2's byte characters (byte_unicode.h) and merged by rank.
  ByteLevelBpe,
};

// "llama" or "gpt2", the tokenizer.ggml.model names.
std::string_view vocab_kind_name(VocabKind kind);

// Token types, numbered as in GGUF's tokenizer.ggml.token_type.
enum class TokenType : std::uint8_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct Vocabulary {
  VocabKind kind = VocabKind::SentencePiece;
  std::string source;  // file name or label; error messages start with it

  // Pre-tokenization (ByteLevelBpe only). When split_regexes is non-empty it is used as is
  // (regexes applied in order, each splitting the pieces left by the previous one) and
  // pre_tokenizer is only a label (the catalog name with the same split, or empty); otherwise
  // pre_tokenizer names an entry of the catalog in pre_tokenizer_catalog.h.
  std::string pre_tokenizer = "default";
  std::vector<std::string> split_regexes;
  // A pre-tokenized word that is itself a normal token is emitted whole, without merging
  // (Hugging Face BPE "ignore_merges", llama.cpp's llama3 pre-tokenizer).
  bool ignore_merges = false;

  std::vector<std::string> tokens;  // [n_vocab] token texts as stored ('▁', byte-level chars)
  std::vector<float> scores;        // [n_vocab] merge priority (SentencePiece), or empty = all 0
  std::vector<TokenType> types;     // [n_vocab], or empty = all Normal
  // Ranked merges (ByteLevelBpe only; rank = index): the two token texts that merge.
  std::vector<std::pair<std::string, std::string>> merges;

  std::optional<std::int32_t> bos_id;
  std::optional<std::int32_t> eos_id;
  std::optional<std::int32_t> unk_id;
  std::optional<std::int32_t> pad_id;
  std::optional<std::int32_t> eot_id;  // end of turn (<|eot_id|>, <|im_end|>, ...)
  std::optional<std::int32_t> eom_id;  // end of message (<|eom_id|>)
  std::vector<std::int32_t> extra_end_of_generation_ids;  // other ids that stop generation

  // encode(add_special = true) puts BOS in front / EOS at the end when these are set.
  bool add_bos = true;
  bool add_eos = false;
  // SentencePiece: prepend ' ' to every run of plain text (at the start of the input and after
  // each special token). ByteLevelBpe: prepend ' ' to every run of plain text that does not
  // already start with one (Hugging Face ByteLevel add_prefix_space).
  bool add_space_prefix = true;

  std::optional<std::string> chat_template;  // Jinja text (tokenizer.chat_template), if any

  std::int32_t size() const { return static_cast<std::int32_t>(tokens.size()); }
  TokenType type_of(std::int32_t id) const { return types.empty() ? TokenType::Normal : types[id]; }
  float score_of(std::int32_t id) const { return scores.empty() ? 0.0f : scores[id]; }
};

// The flags llama.cpp uses when a file does not set them: SentencePiece adds BOS and a space
// prefix; byte-level BPE adds neither. Neither adds EOS.
struct DefaultFlags {
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;
};
DefaultFlags default_flags(VocabKind kind);

// Throws lockstep::Error, naming vocabulary.source and the field, unless:
//   - there is at least one token, and scores/types are empty or one per token (no NaN score,
//     types within 0..6);
//   - no non-empty token text appears twice;
//   - merges are only present for ByteLevelBpe, and both sides of every merge are tokens;
//   - every special id is in range, and add_bos / add_eos have a BOS / EOS id;
//   - ByteLevelBpe has split regexes or a pre-tokenizer name the catalog knows.
// The regexes themselves are compiled (and checked) by the Tokenizer.
void validate_vocabulary(const Vocabulary& vocabulary);

// Adds to extra_end_of_generation_ids the control and user-defined tokens whose text marks the
// end of a turn by convention (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>,
// <|eom_id|>, ...), as llama.cpp does for files that do not list them.
void add_conventional_end_of_generation_ids(Vocabulary& vocabulary);

// The text of a SentencePiece byte token for `byte`: "<0x0A>" for 10.
std::string byte_token_text(std::uint8_t byte);

}  // namespace lockstep::tokenizer
