// Reads a Vocabulary from a Hugging Face tokenizer.json (plus, optionally, its
// tokenizer_config.json). Supported: model.type "BPE" in one of two forms:
//
//  (a) byte-level BPE: the pre_tokenizer is ByteLevel, or a Sequence whose last entry is
//      ByteLevel and whose earlier entries are Split {pattern: {Regex | String}, behavior
//      "Isolated"} or Digits. The Split regexes are taken verbatim, in order; Digits adds \p{N}
//      (individual_digits) or \p{N}+; ByteLevel with use_regex adds GPT-2's regex and its
//      add_prefix_space sets add_space_prefix; pre_tokenizer is set to the catalog name with the
//      same split when there is one (pre_tokenizer_name_for), else empty. The normalizer must be
//      null or NFC (NFC is not
//      applied, as in llama.cpp's GGUF conversion; input is expected to be NFC already).
//  (b) SentencePiece converted to BPE (Llama 2, Mistral): normalizer [Prepend "▁"] + Replace
//      " " -> "▁" with no pre_tokenizer, or a Metaspace pre_tokenizer (replacement "▁", not
//      split). It becomes a SentencePiece vocabulary whose token scores are minus the rank of the
//      first merge producing each token (-inf for tokens no merge produces, which then never
//      come out of merging); "<0xXX>" tokens are byte tokens when model.byte_fallback is set.
//      model.ignore_merges is ignored here (there are no pre-tokenized words).
//
// added_tokens: "special": true -> control token, otherwise user-defined. model.unk_token is the
// unknown token. Merges may be "a b" strings or ["a", "b"] pairs; both sides and their
// concatenation must be in model.vocab. model.dropout must be null; continuing_subword_prefix and
// end_of_word_suffix must be empty.
//
// BOS / EOS: tokenizer_config.json's bos_token / eos_token (strings or {"content": ...}),
// add_bos_token / add_eos_token, chat_template (a string, or a list of {name, template}: the one
// named "default", else the first). Where the config is silent, a TemplateProcessing
// post_processor that starts (ends) its "single" template with a special token means add BOS
// (EOS) with that token; otherwise the defaults of default_flags(). A SentencePiece vocabulary
// without a configured BOS / EOS uses "<s>" / "</s>" if present.
//
// Anything else throws lockstep::Error naming the file and the field.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

// Reads both files; `tokenizer_config_json_path` may be empty when there is no config.
Vocabulary vocabulary_from_tokenizer_json(const std::string& tokenizer_json_path,
                                          const std::string& tokenizer_config_json_path);

// The same from text in memory (fuzzing, tests). `config_json` empty means no config; `label`
// names the tokenizer.json in error messages.
Vocabulary vocabulary_from_tokenizer_json_text(std::string_view json, std::string_view config_json,
                                               const std::string& label);

}  // namespace lockstep::tokenizer
