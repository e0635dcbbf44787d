// Reads a Vocabulary from a GGUF file's tokenizer.ggml.* metadata, as llama.cpp's
// llama_vocab::load does for the 'llama' (SentencePiece) and 'gpt2' (byte-level BPE) models.
//
// Keys: model (required: "llama" or "gpt2"), pre, tokens (required), scores, token_type,
// merges ("a b" strings; required for gpt2), bos/eos/unknown/padding/eot/eom_token_id,
// add_bos_token, add_eos_token, add_space_prefix, and tokenizer.chat_template.
//
// Defaults where a key is absent, as in llama.cpp: 'llama' has BOS 1, EOS 2, unknown 0 (when the
// vocabulary is that large), adds BOS and a space prefix; 'gpt2' adds neither, except that the
// llama3 / tekken pre-tokenizer families add BOS. For 'gpt2' the add_space_prefix key is ignored
// (llama.cpp's BPE tokenizer ignores it too).
//
// Pre-tokenizer names: a 'gpt2' file without tokenizer.ggml.pre gets llama.cpp's "default" split
// (with a warning on stderr, as llama.cpp prints). A name that is present but not in the catalog
// is an error listing the known names, rather than llama.cpp's silent fallback: splitting with
// the wrong regexes gives plausible but different token ids, which this project would rather
// refuse than run.
#pragma once

#include "format/gguf_file.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

// Throws lockstep::Error naming the file and the key for anything missing or malformed, and
// "unsupported tokenizer X" for a tokenizer.ggml.model other than llama / gpt2.
Vocabulary vocabulary_from_gguf(const model::GgufFile& file);

}  // namespace lockstep::tokenizer
