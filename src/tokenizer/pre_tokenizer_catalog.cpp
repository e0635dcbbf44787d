#include "tokenizer/pre_tokenizer_catalog.h"

#include <map>

namespace lockstep::tokenizer {
namespace {

// GPT-2's pattern as llama.cpp writes it (Hugging Face appends "|\s+", which changes nothing
// here because unmatched text becomes a piece of its own anyway).
const char* const kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// Llama 3 (tiktoken cl100k style). The case-insensitive contractions are spelled out as in
// llama.cpp, so that PCRE2's Unicode case folding (e.g. 'ſ' ~ 's') cannot differ from it.
const char* const kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen 2: as Llama 3, but every digit is a piece of its own.
const char* const kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// GPT-4o / Llama 4 (o200k style), as in their tokenizer.json.
const char* const kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Mistral's tekken, as in its tokenizer.json.
const char* const kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const std::map<std::string, PreTokenizerSpec, std::less<>>& catalog() {
  static const auto* const instance = [] {
    auto* m = new std::map<std::string, PreTokenizerSpec, std::less<>>;
    auto add = [m](std::initializer_list<const char*> names, const PreTokenizerSpec& spec) {
      for (const char* name : names) m->emplace(name, spec);
    };
    add({"default"},
        {{R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, false, false});
    add({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
        {{kLlama3}, true, true});
    add({"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"}, {{kLlama3}, false, false});
    add({"qwen2", "deepseek-r1-qwen", "kormo", "megrez", "stablelm2", "hunyuan"},
        {{kQwen2}, false, false});
    add({"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "jina-v1-en",
         "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", "gigachat", "a.x-4.0",
         "mellum", "exaone4", "trillion", "granite-docling"},
        {{kGpt2}, false, false});
    add({"falcon"}, {{R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}, false, false});
    add({"deepseek-coder"},
        {{"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", "[一-龥ࠀ-一가-퟿]+", R"(\p{N})"}, false, false});
    add({"deepseek-v3"},
        {{R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+",
          R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
         false, false});
    add({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
        {{R"(\p{N})", kGpt2}, false, false});
    add({"gpt-4o", "llama4"}, {{kGpt4o}, false, false});
    add({"tekken"}, {{kTekken}, true, true});
    return m;
  }();
  return *instance;
}

// Hugging Face's spelling of patterns the catalog writes differently.
const char* const kHfLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kHfQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view name) {
  const auto& m = catalog();
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

std::string known_pre_tokenizer_names() {
  std::string out;
  for (const auto& [name, spec] : catalog()) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string pre_tokenizer_name_for(const std::vector<std::string>& regexes) {
  if (regexes.size() == 1) {
    if (regexes[0] == gpt2_split_regex()) return "gpt-2";
    if (regexes[0] == kHfLlama3) return "llama-bpe";
    if (regexes[0] == kHfQwen2) return "qwen2";
  }
  // Preferred names first where several share one split.
  for (const char* name : {"llama-bpe", "qwen2", "gpt-2", "starcoder", "deepseek-coder", "falcon",
                           "default", "deepseek-v3", "gpt-4o", "tekken"}) {
    if (find_pre_tokenizer(name)->regexes == regexes) return name;
  }
  return {};
}

const std::string& gpt2_split_regex() {
  static const std::string regex = std::string(kGpt2) + R"(|\s+)";
  return regex;
}

}  // namespace lockstep::tokenizer
