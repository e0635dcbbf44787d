// The pre-tokenizers byte-level BPE vocabularies name in tokenizer.ggml.pre, with the split
// regexes llama.cpp uses for each (llama-vocab.cpp), in PCRE2 syntax. Where llama.cpp rewrote a
// Hugging Face regex for std::regex, the regex here is the equivalent one PCRE2 can run directly.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lockstep::tokenizer {

struct PreTokenizerSpec {
  std::vector<std::string> regexes;  // applied in order; each splits the previous pieces
  bool ignore_merges = false;        // whole-word tokens skip merging (llama3, tekken)
  bool add_bos_by_default = false;   // llama.cpp adds BOS for these even when the file is silent
};

// The spec for `name`, or nullptr when the name is not in the catalog.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view name);

// All known names, comma-separated, for error messages.
std::string known_pre_tokenizer_names();

// GPT-2's pattern as Hugging Face's ByteLevel pre-tokenizer uses it (use_regex = true).
const std::string& gpt2_split_regex();

// The catalog name whose split the regex list `regexes` performs, recognising both the catalog's
// own spelling and the Hugging Face originals of the GPT-2, Llama 3 and Qwen 2 patterns; empty
// when there is none. (Lets a tokenizer.json vocabulary be written to GGUF under a name llama.cpp
// knows.)
std::string pre_tokenizer_name_for(const std::vector<std::string>& regexes);

}  // namespace lockstep::tokenizer
