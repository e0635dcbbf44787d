// Special-token texts in the input: parse_special on and off, user-defined tokens, precedence.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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
