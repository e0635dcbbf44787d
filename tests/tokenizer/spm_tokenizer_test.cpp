// SentencePiece-style encoding on a hand-built vocabulary: merge order by score, space prefix,
// byte fallback, BOS / EOS flags, decoding.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {
namespace {

using Ids = std::vector<std::int32_t>;

// Ids: <unk> 0, <s> 1, </s> 2, bytes 3..258, then the pieces from 259 on.
const std::vector<std::pair<std::string, float>> kPieces = {
    {"▁", -1.0f},      // 259
    {"h", -2.0f},      // 260
    {"e", -2.0f},      // 261
    {"l", -2.0f},      // 262
    {"o", -2.0f},      // 263
    {"▁h", -3.0f},     // 264
    {"ll", -1.5f},     // 265
    {"he", -4.0f},     // 266
    {"▁he", -2.5f},    // 267
    {"llo", -1.2f},    // 268
    {"▁hello", -0.5f}, // 269
    {"▁▁", -6.0f},     // 270
    {"w", -2.0f},      // 271
};

Tokenizer make(bool add_space_prefix = true) {
  Vocabulary v = make_sentencepiece_vocabulary(kPieces);
  v.add_space_prefix = add_space_prefix;
  return Tokenizer(std::move(v));
}

TEST(TokenizerSpm, MergesHighestScoreFirst) {
  const Tokenizer t = make();
  // "▁hello": ll (-1.5) first, then llo (-1.2), ▁h (-3) vs he: ▁h wins over he (-4); then
  // ▁he (-2.5) ... and finally ▁hello (-0.5).
  EXPECT_EQ(t.encode("hello", false, false), Ids({269}));
  // "▁hel": ▁h (-3) beats he (-4); then ▁he (-2.5); l stays.
  EXPECT_EQ(t.encode("hel", false, false), Ids({267, 262}));
}

TEST(TokenizerSpm, EqualScoresMergeLeftmostFirst) {
  const Tokenizer t = make(false);
  // "lll": "ll" at 0 and at 1 tie; the left pair wins.
  EXPECT_EQ(t.encode("lll", false, false), Ids({265, 262}));
}

TEST(TokenizerSpm, SpacePrefixAndSpaces) {
  const Tokenizer t = make();
  EXPECT_EQ(t.encode("", false, false), Ids{});
  EXPECT_EQ(t.encode(" ", false, false), Ids({270}));     // "▁▁"
  EXPECT_EQ(t.encode("h", false, false), Ids({264}));     // "▁h"
  const Tokenizer no_prefix = make(false);
  EXPECT_EQ(no_prefix.encode("h", false, false), Ids({260}));
  EXPECT_EQ(no_prefix.decode(Ids({259, 260})), " h");    // no space to drop
}

TEST(TokenizerSpm, ByteFallbackForCharactersOutsideTheVocabulary) {
  const Tokenizer t = make();
  // 'z' is not a piece: <0x7A> = 3 + 0x7A. '€' is E2 82 AC.
  EXPECT_EQ(t.encode("z", false, false), Ids({259, 3 + 0x7A}));
  EXPECT_EQ(t.encode("€", false, false), Ids({259, 3 + 0xE2, 3 + 0x82, 3 + 0xAC}));
  EXPECT_EQ(t.decode(t.encode("z€", false, false)), "z€");
  EXPECT_EQ(t.token_to_piece(3 + 0x41), "A");
}

TEST(TokenizerSpm, InvalidUtf8PassesThroughAsByteTokens) {
  const Tokenizer t = make();
  const std::string bad = "h\xFF\xC3(\xE2\x82";
  const Ids ids = t.encode(bad, false, false);
  EXPECT_EQ(ids, Ids({264, 3 + 0xFF, 3 + 0xC3, 3 + '(', 3 + 0xE2, 3 + 0x82}));
  EXPECT_EQ(t.decode(ids), bad);
}

TEST(TokenizerSpm, BosAndEosFollowTheFlags) {
  Vocabulary v = make_sentencepiece_vocabulary(kPieces);
  v.add_eos = true;
  const Tokenizer t(std::move(v));
  EXPECT_EQ(t.encode("hello", true, false), Ids({1, 269, 2}));
  EXPECT_EQ(t.encode("hello", false, false), Ids({269}));
  EXPECT_EQ(t.encode("", true, false), Ids({1, 2}));
  Vocabulary quiet = make_sentencepiece_vocabulary(kPieces);
  quiet.add_bos = false;
  EXPECT_EQ(Tokenizer(std::move(quiet)).encode("hello", true, false), Ids({269}));
}

TEST(TokenizerSpm, DecodeDropsTheAddedLeadingSpaceOnce) {
  const Tokenizer t = make();
  EXPECT_EQ(t.decode(t.encode(" hello", false, false)), " hello");
  EXPECT_EQ(t.decode(t.encode("hello hello", true, false)), "hello hello");
  EXPECT_EQ(t.token_to_piece(269), " hello");
  EXPECT_EQ(t.token_to_piece(1), "");
  EXPECT_EQ(t.token_to_piece(1, true), "<s>");
  EXPECT_EQ(t.token_to_piece(0), "");
  EXPECT_THROW(t.token_to_piece(100000), Error);
  EXPECT_THROW(t.decode(Ids({-1})), Error);
}

TEST(TokenizerSpm, ControlTokensNeverComeOutOfMerging) {
  // A control token whose text plain text could merge into must not be produced from text.
  const std::vector<std::pair<std::string, float>> pieces = {{"<", -1}, {"x", -1}, {">", -1},
                                                             {"▁<", -1}, {"▁<x", -1}};
  const std::vector<SyntheticToken> specials = {{"▁<x>", TokenType::Control}};
  const Tokenizer t(make_sentencepiece_vocabulary(pieces, specials));
  const Ids ids = t.encode("<x>", false, false);
  EXPECT_EQ(ids, Ids({263, 261}));  // "▁<x", ">"
}

TEST(TokenizerSpm, AccessorsReportTheVocabulary) {
  const Tokenizer t = make();
  EXPECT_EQ(t.kind(), VocabKind::SentencePiece);
  EXPECT_EQ(t.n_vocab(), 259 + static_cast<std::int32_t>(kPieces.size()));
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_TRUE(t.is_end_of_generation(2));
  EXPECT_FALSE(t.is_end_of_generation(1));
  EXPECT_EQ(t.token_text(269), "▁hello");
  EXPECT_EQ(t.token_type(3), TokenType::Byte);
}

}  // namespace
}  // namespace lockstep::tokenizer
