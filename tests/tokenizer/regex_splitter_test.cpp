// Pre-tokenizer splits with the catalog's regexes on hand-picked strings (the behaviour of the
// Hugging Face / tiktoken patterns these vocabularies were trained with).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/pre_tokenizer_catalog.h"
#include "tokenizer/regex_splitter.h"

namespace lockstep::tokenizer {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(const std::string& pre, const std::string& text) {
  const PreTokenizerSpec* spec = find_pre_tokenizer(pre);
  if (!spec) throw std::runtime_error("no pre-tokenizer " + pre);
  const RegexSplitter splitter(spec->regexes, pre);
  Pieces out;
  for (std::string_view piece : splitter.split(text)) out.emplace_back(piece);
  return out;
}

TEST(TokenizerRegexSplit, Llama3GroupsDigitsByThree) {
  EXPECT_EQ(split("llama3", "12345"), Pieces({"123", "45"}));
  EXPECT_EQ(split("llama3", "a 1234567"), Pieces({"a", " ", "123", "456", "7"}));
}

TEST(TokenizerRegexSplit, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "12345"), Pieces({"1", "2", "3", "4", "5"}));
}

TEST(TokenizerRegexSplit, Contractions) {
  EXPECT_EQ(split("llama3", "I'm don't WE'LL"),
            Pieces({"I", "'m", " don", "'t", " WE", "'LL"}));
  EXPECT_EQ(split("gpt-2", "I'm WE'LL"), Pieces({"I", "'m", " WE", "'", "LL"}));
}

TEST(TokenizerRegexSplit, NewlinesAndSpaces) {
  EXPECT_EQ(split("llama3", "a\n\nb"), Pieces({"a", "\n\n", "b"}));
  EXPECT_EQ(split("llama3", "a   b"), Pieces({"a", "  ", " b"}));
  EXPECT_EQ(split("llama3", "x  \n  y"), Pieces({"x", "  \n", " ", " y"}));
  EXPECT_EQ(split("llama3", "end  "), Pieces({"end", "  "}));
  EXPECT_EQ(split("llama3", "!!\n\nok"), Pieces({"!!\n\n", "ok"}));
  EXPECT_EQ(split("gpt-2", "Hello  world"), Pieces({"Hello", " ", " world"}));
}

TEST(TokenizerRegexSplit, LettersWithLeadingPunctuation) {
  EXPECT_EQ(split("llama3", "(hello) world!"), Pieces({"(hello", ")", " world", "!"}));
  EXPECT_EQ(split("gpt-2", "(hello) world!"), Pieces({"(", "hello", ")", " world", "!"}));
}

TEST(TokenizerRegexSplit, ChainedRegexesSplitTheRemainingPieces) {
  // deepseek-coder: newlines first, then letters, punctuation, CJK, digits one by one.
  EXPECT_EQ(split("deepseek-coder", "ab12\ncd"), Pieces({"ab", "1", "2", "\n", "cd"}));
  // starcoder: digits alone, then GPT-2.
  EXPECT_EQ(split("starcoder", "x 42"), Pieces({"x", " ", "4", "2"}));
}

TEST(TokenizerRegexSplit, PiecesCoverTheTextAndNoneIsEmpty) {
  const std::string text = "  Hello, y'all! 🦙🦙 3.14\t\n\n нещо 我想在apple工作 ";
  for (const char* pre : {"default", "llama3", "qwen2", "gpt-2", "falcon", "deepseek-coder",
                          "starcoder", "gpt-4o", "tekken", "deepseek-v3"}) {
    std::string joined;
    for (const std::string& piece : split(pre, text)) {
      EXPECT_FALSE(piece.empty()) << pre;
      joined += piece;
    }
    EXPECT_EQ(joined, text) << pre;
  }
}

TEST(TokenizerRegexSplit, BadRegexIsAnError) {
  EXPECT_THROW(RegexSplitter({"(unclosed"}, "test"), Error);
  EXPECT_THROW(RegexSplitter({}, "test"), Error);
}

TEST(TokenizerRegexSplit, EmptyMatchesSplitNothing) {
  const RegexSplitter splitter({"x*"}, "test");
  const auto pieces = splitter.split("abxxc");
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0], "ab");
  EXPECT_EQ(pieces[1], "xx");
  EXPECT_EQ(pieces[2], "c");
}

TEST(TokenizerRegexSplit, NamesTheCatalogEntryForARegexList) {
  const std::string hf_llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(pre_tokenizer_name_for({hf_llama3}), "llama-bpe");
  EXPECT_EQ(pre_tokenizer_name_for(find_pre_tokenizer("starcoder")->regexes), "starcoder");
  EXPECT_EQ(pre_tokenizer_name_for({gpt2_split_regex()}), "gpt-2");
  EXPECT_EQ(pre_tokenizer_name_for({"x"}), "");
  // The Hugging Face spelling splits as the catalog's does.
  const RegexSplitter hf({hf_llama3}, "hf");
  const auto pieces = hf.split("I'M 12345\n\n ok");
  const RegexSplitter ours(find_pre_tokenizer("llama3")->regexes, "ours");
  EXPECT_EQ(pieces, ours.split("I'M 12345\n\n ok"));
}

TEST(TokenizerRegexSplit, UnknownNamesAreNotInTheCatalog) {
  EXPECT_EQ(find_pre_tokenizer("no-such-pre"), nullptr);
  EXPECT_NE(known_pre_tokenizer_names().find("llama-bpe"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::tokenizer
