// Special-token texts in the input: parse_special on and off, user-defined tokens, precedence.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/special_token_splitter.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {
namespace {

using Ids = std::vector<std::int32_t>;

// Byte-level vocabulary: bytes 0..255, then the specials from 256 on.
Tokenizer make(const std::vector<SyntheticToken>& specials) {
  return Tokenizer(make_byte_level_vocabulary({}, "gpt-2", specials));
}

TEST(TokenizerSpecialTokens, ControlTokensOnlyWithParseSpecial) {
  const Tokenizer t = make({{"<|im_start|>", TokenType::Control}});
  EXPECT_EQ(t.encode("<|im_start|>a", false, true), Ids({256, 'a'}));
  const Ids plain = t.encode("<|im_start|>a", false, false);
  EXPECT_EQ(plain.size(), std::string("<|im_start|>a").size());
  EXPECT_EQ(t.decode(plain), "<|im_start|>a");
  EXPECT_EQ(t.decode(Ids({256, 'a'})), "a");
  EXPECT_EQ(t.decode(Ids({256, 'a'}), true), "<|im_start|>a");
}

TEST(TokenizerSpecialTokens, UserDefinedTokensAlwaysMatch) {
  const Tokenizer t = make({{"<tool>", TokenType::UserDefined}});
  EXPECT_EQ(t.encode("x<tool>", false, false), Ids({'x', 256}));
  EXPECT_EQ(t.encode("x<tool>", false, true), Ids({'x', 256}));
  EXPECT_EQ(t.decode(Ids({'x', 256})), "x<tool>");
}

TEST(TokenizerSpecialTokens, LongerTokensTakePrecedence) {
  const Tokenizer t = make({{"<a>", TokenType::Control}, {"<a><b>", TokenType::Control}});
  EXPECT_EQ(t.encode("<a><b><a>", false, true), Ids({257, 256}));
  // llama.cpp's order: the longest candidate claims its occurrences first, even when a shorter
  // one starts further left: "xa" (2) loses to "abc" (3) in "xabc".
  const Tokenizer u = make({{"xa", TokenType::Control}, {"abc", TokenType::Control}});
  EXPECT_EQ(u.encode("xabc", false, true), Ids({'x', 257}));
  EXPECT_EQ(u.encode("xab", false, true), Ids({256, 'b'}));
}

TEST(TokenizerSpecialTokens, RepeatedAndOverlappingOccurrences) {
  const Tokenizer t = make({{"aa", TokenType::Control}});
  // Leftmost first, no overlap: "aaa" = aa + a.
  EXPECT_EQ(t.encode("aaa", false, true), Ids({256, 'a'}));
  EXPECT_EQ(t.encode("aaaa", false, true), Ids({256, 256}));
}

TEST(TokenizerSpecialTokens, SplitterGivesFragmentsInOrder) {
  Vocabulary v = make_byte_level_vocabulary({}, "gpt-2", std::vector<SyntheticToken>{
                                                             {"<s>", TokenType::Control}});
  const SpecialTokenSplitter splitter(v);
  const auto fragments = splitter.split("a<s><s>b", true);
  ASSERT_EQ(fragments.size(), 4u);
  EXPECT_EQ(fragments[0].text, "a");
  EXPECT_EQ(fragments[0].token, -1);
  EXPECT_EQ(fragments[1].token, 256);
  EXPECT_EQ(fragments[2].token, 256);
  EXPECT_EQ(fragments[3].text, "b");
  EXPECT_TRUE(splitter.split("", true).empty());
}

// Literal spans (a chat prompt's message content): control tokens inside them are text, as with
// parse_special off; user-defined tokens match everywhere; outside, nothing changes.
TEST(TokenizerSpecialTokens, ControlTokensDoNotMatchInsideLiteralSpans) {
  const Tokenizer t = make({{"<c>", TokenType::Control}, {"<u>", TokenType::UserDefined}});
  const std::string text = "<c>x<c><u>y<c>";  // the middle "x<c><u>y" (bytes 3..10) is content
  const std::vector<TextSpan> content = {{3, 8}};
  EXPECT_EQ(t.encode(text, false, true), Ids({256, 'x', 256, 257, 'y', 256}));
  EXPECT_EQ(t.encode(text, false, true, content), Ids({256, 'x', '<', 'c', '>', 257, 'y', 256}));
  // Without parse_special the spans change nothing.
  EXPECT_EQ(t.encode(text, false, false, content), t.encode(text, false, false));
  // Empty spans and spans without special-token text change nothing.
  EXPECT_EQ(t.encode(text, false, true, std::vector<TextSpan>{{0, 0}, {3, 1}, {14, 0}}),
            t.encode(text, false, true));
  // The whole text literal: exactly parse_special off.
  EXPECT_EQ(t.encode(text, true, true, std::vector<TextSpan>{{0, text.size()}}),
            t.encode(text, true, false));
}

TEST(TokenizerSpecialTokens, AnOccurrenceSharingOneByteWithASpanIsText) {
  const Tokenizer t = make({{"<a>", TokenType::Control}, {"<a><b>", TokenType::Control}});
  // "<a><b>" reaches into the span at byte 5: it is text, and "<a>" (outside) still matches.
  EXPECT_EQ(t.encode("<a><b>", false, true, std::vector<TextSpan>{{5, 1}}),
            Ids({256, '<', 'b', '>'}));
  // Starting inside a span and ending outside: text.
  EXPECT_EQ(t.encode("x<a>", false, true, std::vector<TextSpan>{{0, 2}}), Ids({'x', '<', 'a', '>'}));
  EXPECT_EQ(t.encode("x<a>", false, true, std::vector<TextSpan>{{0, 1}}), Ids({'x', 256}));
}

TEST(TokenizerSpecialTokens, LiteralSpansMustBeSortedAndInsideTheText) {
  const Tokenizer t = make({{"<c>", TokenType::Control}});
  EXPECT_THROW(t.encode("abc", false, true, std::vector<TextSpan>{{2, 2}}), Error);
  EXPECT_THROW(t.encode("abc", false, true, std::vector<TextSpan>{{4, 0}}), Error);
  EXPECT_THROW(t.encode("abcdef", false, true, std::vector<TextSpan>{{3, 1}, {1, 1}}), Error);
  EXPECT_THROW(t.encode("abcdef", false, true, std::vector<TextSpan>{{1, 3}, {2, 1}}), Error);
  EXPECT_THROW(t.encode("abc", false, true, std::vector<TextSpan>{{1, SIZE_MAX}}), Error);
  EXPECT_NO_THROW(t.encode("abc", false, true, std::vector<TextSpan>{{0, 3}, {3, 0}}));
}

TEST(TokenizerSpecialTokens, SentencePieceAddsASpacePrefixAfterEachSpecialToken) {
  const std::vector<std::pair<std::string, float>> pieces = {{"▁", -1.0f}, {"a", -1.0f},
                                                             {"▁a", -0.5f}};
  const Tokenizer t(make_sentencepiece_vocabulary(pieces));
  // "a</s>a": both runs of text get '▁' in front (llama.cpp), so both are "▁a" (261).
  EXPECT_EQ(t.encode("a</s>a", true, true), Ids({1, 261, 2, 261}));
  EXPECT_EQ(t.decode(Ids({1, 261, 2, 261})), "a a");
}

}  // namespace
}  // namespace lockstep::tokenizer
