// Streaming decode: multi-byte characters split over several tokens come out whole.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/streaming_decoder.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {
namespace {

TEST(TokenizerStreaming, HoldsBackIncompleteCharacters) {
  // SentencePiece byte fallback: "€" (E2 82 AC) is three byte tokens.
  const Tokenizer t(make_sentencepiece_vocabulary({{"▁", -1.0f}, {"a", -1.0f}}));
  const auto ids = t.encode("a€a", false, false);
  ASSERT_EQ(ids.size(), 6u);  // ▁ a E2 82 AC a
  StreamingDecoder decoder(t);
  std::vector<std::string> outputs;
  for (std::int32_t id : ids) outputs.push_back(decoder.push(id));
  EXPECT_EQ(outputs, (std::vector<std::string>{" ", "a", "", "", "€", "a"}));
  EXPECT_EQ(decoder.finish(), "");
}

TEST(TokenizerStreaming, ByteLevelTokensSplittingACharacter) {
  // Byte-level: "🦙" is F0 9F A6 99; merge the first two bytes only, so the character spans
  // tokens "\xF0\x9F" + "\xA6" + "\x99".
  const std::vector<std::pair<std::string, std::string>> merges = {{"\xF0", "\x9F"}};
  const Tokenizer t(make_byte_level_vocabulary(merges, "gpt-2"));
  const auto ids = t.encode("🦙!", false, false);
  ASSERT_EQ(ids.size(), 4u);
  StreamingDecoder decoder(t);
  std::string all;
  std::vector<std::string> outputs;
  for (std::int32_t id : ids) {
    outputs.push_back(decoder.push(id));
    EXPECT_TRUE(is_valid_utf8(outputs.back()));
    all += outputs.back();
  }
  EXPECT_EQ(outputs, (std::vector<std::string>{"", "", "🦙", "!"}));
  EXPECT_EQ(all, "🦙!");
}

TEST(TokenizerStreaming, InvalidBytesAreNotHeldAndFinishFlushes) {
  const Tokenizer t(make_byte_level_vocabulary({}, "gpt-2"));
  StreamingDecoder decoder(t);
  EXPECT_EQ(decoder.push(0xFF), "\xFF");  // can never start a character
  EXPECT_EQ(decoder.push(0xE2), "");      // may start one
  EXPECT_EQ(decoder.push('x'), "\xE2x");  // ... but did not
  EXPECT_EQ(decoder.push(0xE2), "");
  EXPECT_EQ(decoder.finish(), "\xE2");
}

TEST(TokenizerStreaming, AtTextStartMatchesDecode) {
  const Tokenizer t(make_sentencepiece_vocabulary({{"▁", -1.0f}, {"a", -1.0f}, {"▁a", -0.5f}}));
  const auto ids = t.encode("a a", true, false);
  StreamingDecoder start(t, false, true);
  StreamingDecoder continued(t);
  std::string a, b;
  for (std::int32_t id : ids) {
    a += start.push(id);
    b += continued.push(id);
  }
  EXPECT_EQ(a, t.decode(ids));
  EXPECT_EQ(a, "a a");
  EXPECT_EQ(b, " a a");
}

TEST(TokenizerUtf8, CompletePrefixLength) {
  EXPECT_EQ(utf8_complete_prefix_length(""), 0u);
  EXPECT_EQ(utf8_complete_prefix_length("ab"), 2u);
  EXPECT_EQ(utf8_complete_prefix_length("a\xE2\x82"), 1u);
  EXPECT_EQ(utf8_complete_prefix_length("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(utf8_complete_prefix_length("\xF0\x9F\xA6"), 0u);
  EXPECT_EQ(utf8_complete_prefix_length("\xC0"), 1u);      // never valid
  EXPECT_EQ(utf8_complete_prefix_length("\xED\xA0"), 2u);  // surrogate: never valid
  EXPECT_EQ(utf8_complete_prefix_length("\x82\x82"), 2u);
}

TEST(TokenizerUtf8, ValidationAndReplacement) {
  EXPECT_TRUE(is_valid_utf8("Äpfel 🦙"));
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_EQ(replace_invalid_utf8("a\xFF" "b\xE2\x82"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
  const Utf8Char c = decode_utf8_char("€", 0);
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.code_point, 0x20ACu);
  EXPECT_EQ(c.length, 3u);
}

}  // namespace
}  // namespace lockstep::tokenizer
