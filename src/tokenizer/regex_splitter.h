// Pre-tokenization by a chain of regexes (PCRE2, UTF + UCP): the first regex splits the text,
// each later regex splits every piece the previous one left. Within a piece, each match is a
// piece and so is each run of unmatched text between matches (llama.cpp's unicode_regex_split,
// Hugging Face's Split with behavior "Isolated"). Regexes see one piece at a time: lookarounds do
// not look past its ends. Empty matches split nothing.
//
// Regexes are Hugging Face / Oniguruma patterns run by PCRE2; for the patterns these tokenizers
// use (\p{..} classes, \s, lookahead, (?i:..)) the two agree.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::tokenizer {

class RegexSplitter {
 public:
  // Compiles `patterns`. Throws lockstep::Error naming `source` and the pattern when one does
  // not compile, or when there is no pattern.
  RegexSplitter(const std::vector<std::string>& patterns, const std::string& source);
  ~RegexSplitter();
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;

  // Splits `text`, which must be well-formed UTF-8 (it is not checked again), into pieces that
  // are views into it, in order, covering it exactly; no piece is empty. Each regex match is
  // bounded by PCRE2 match and heap limits: a pathological pattern gives lockstep::Error rather
  // than a hang. Safe to call from several threads at once.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> regexes_;
  std::string source_;
};

}  // namespace lockstep::tokenizer
