#include "model/gguf_vocabulary_writer.h"

#include <string>

#include "core/error.h"
#include "tokenizer/pre_tokenizer_catalog.h"
#include "tokenizer/regex_splitter.h"

namespace lockstep::model {
namespace {

// Texts that tell pre-tokenizers apart: contractions, case, digit runs, punctuation runs,
// whitespace runs and line breaks, and non-Latin scripts.
constexpr const char* kProbeTexts[] = {
    "Hello world! It's 2024: 1234567 numbers, 3.14159 and $100.\n\n   spaces\ttabs\r\nend",
    "I'M SHOUTING, don't we'll you've they'd she's I'd 'quoted' \"double\" a+b=c <tag/> ~^|`",
    "Ünïcödé façade naïve — 中文字符测试 日本語のテキスト カタカナ 한국어 텍스트 Ελληνικά русский",
    "CamelCaseWords snake_case_words kebab-case-words MIXEDcase mixedCASE x2y3z4 ...!!!???",
    "  leading spaces\n\n\ntrailing spaces   \n \t \n😀🤖 emoji👍🏽 tab\there 0x1F 1,000,000 10/20/30",
};

// The tokenizer.ggml.pre name whose split equals the vocabulary's own regexes on every probe
// text (as llama.cpp's converter identifies a tokenizer by what it does), or "" when none does.
std::string pre_tokenizer_name_for(const tokenizer::Vocabulary& v) {
  const tokenizer::RegexSplitter own(v.split_regexes, v.source);
  // Most common first; the first match wins.
  for (const char* name : {"llama-bpe", "qwen2", "gpt-2", "default", "smaug-bpe", "gpt-4o",
                           "tekken", "starcoder", "falcon", "deepseek-coder", "deepseek-v3"}) {
    const tokenizer::PreTokenizerSpec* spec = tokenizer::find_pre_tokenizer(name);
    if (!spec || spec->ignore_merges != v.ignore_merges) continue;
    const tokenizer::RegexSplitter candidate(spec->regexes, name);
    bool same = true;
    for (const char* text : kProbeTexts) {
      if (own.split(text) != candidate.split(text)) {
        same = false;
        break;
      }
    }
    if (same) return name;
  }
  return "";
}

}  // namespace

void add_vocabulary(GgufWriter& w, const tokenizer::Vocabulary& v) {
  tokenizer::validate_vocabulary(v);
  std::string pre = v.pre_tokenizer;
  const bool named = !v.pre_tokenizer.empty() && tokenizer::find_pre_tokenizer(v.pre_tokenizer);
  if (v.kind == tokenizer::VocabKind::ByteLevelBpe && !named) {
    pre = pre_tokenizer_name_for(v);
    if (pre.empty())
      fail("{}: the tokenizer's pre-tokenizer regexes split text like none of the pre-tokenizers "
           "GGUF names ({}), so the file could not be read back the same",
           v.source, tokenizer::known_pre_tokenizer_names());
  }
  w.add_string("tokenizer.ggml.model", std::string(tokenizer::vocab_kind_name(v.kind)));
  w.add_string("tokenizer.ggml.pre", pre);
  w.add_string_array("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w.add_float32_array("tokenizer.ggml.scores", v.scores);
  std::vector<std::int32_t> types(v.tokens.size(),
                                  static_cast<std::int32_t>(tokenizer::TokenType::Normal));
  for (std::size_t i = 0; i < v.types.size() && i < types.size(); ++i)
    types[i] = static_cast<std::int32_t>(v.types[i]);
  w.add_int32_array("tokenizer.ggml.token_type", types);
  if (!v.merges.empty()) {
    std::vector<std::string> merges;
    merges.reserve(v.merges.size());
    for (const auto& [left, right] : v.merges) merges.push_back(left + " " + right);
    w.add_string_array("tokenizer.ggml.merges", merges);
  }
  auto add_id = [&](const char* key, const std::optional<std::int32_t>& id) {
    if (id) w.add_uint32(key, static_cast<std::uint32_t>(*id));
  };
  add_id("tokenizer.ggml.bos_token_id", v.bos_id);
  add_id("tokenizer.ggml.eos_token_id", v.eos_id);
  add_id("tokenizer.ggml.unknown_token_id", v.unk_id);
  add_id("tokenizer.ggml.padding_token_id", v.pad_id);
  add_id("tokenizer.ggml.eot_token_id", v.eot_id);
  add_id("tokenizer.ggml.eom_token_id", v.eom_id);
  w.add_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.add_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  w.add_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  if (v.chat_template) w.add_string("tokenizer.chat_template", *v.chat_template);
}

}  // namespace lockstep::model
