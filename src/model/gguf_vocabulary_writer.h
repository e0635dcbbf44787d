// Writes a tokenizer vocabulary into GGUF metadata under the keys llama.cpp reads
// (llama-arch.cpp LLM_KV_TOKENIZER_*), so that llama.cpp and lockstep load the same tokenizer:
//   tokenizer.ggml.model            string   "llama" (SentencePiece) | "gpt2" (byte-level BPE)
//   tokenizer.ggml.pre              string   pre-tokenizer name ("default", "qwen2", ...)
//   tokenizer.ggml.tokens           [string] token texts, one per id
//   tokenizer.ggml.scores           [f32]    one per id (written when the vocabulary has scores)
//   tokenizer.ggml.token_type       [i32]    one per id (1 = normal when the vocabulary has none)
//   tokenizer.ggml.merges           [string] "left right", by rank (byte-level BPE only)
//   tokenizer.ggml.{bos,eos,unknown,padding,eot,eom}_token_id   u32, each only when set
//   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix   bool
//   tokenizer.chat_template         string   (when the vocabulary has one)
// The vocabulary is validated first (tokenizer::validate_vocabulary); a bad one throws.
// A byte-level vocabulary read from tokenizer.json carries its split regexes rather than a
// name: it gets the name of the catalog pre-tokenizer (pre_tokenizer_catalog.h) that splits a
// set of probe texts identically, as llama.cpp's converter identifies tokenizers by behaviour;
// when none does, lockstep::Error (writing a name that splits differently would change the
// token ids silently).
#pragma once

#include "format/gguf_writer.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::model {

void add_vocabulary(GgufWriter& writer, const tokenizer::Vocabulary& vocabulary);

}  // namespace lockstep::model
