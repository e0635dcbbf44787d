// Byte-level BPE on hand-built vocabularies: merge order by rank, byte mapping, ignore_merges,
// invalid UTF-8, bytes without a token.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tokenizer/byte_unicode.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {
namespace {

using Ids = std::vector<std::int32_t>;
using Merges = std::vector<std::pair<std::string, std::string>>;

std::int32_t id_of(const Tokenizer& t, const std::string& raw) {
  const std::string text = bytes_to_byte_level_text(raw);
  for (std::int32_t id = 0; id < t.n_vocab(); ++id) {
    if (t.token_text(id) == text) return id;
  }
  return -1;
}

TEST(TokenizerBpe, BytesMapToGpt2Characters) {
  EXPECT_EQ(byte_to_unicode_utf8(' '), "Ġ");
  EXPECT_EQ(byte_to_unicode_utf8('\n'), "Ċ");
  EXPECT_EQ(byte_to_unicode_utf8('A'), "A");
  EXPECT_EQ(byte_to_unicode_utf8(0xAD), "Ń");
  for (unsigned b = 0; b < 256; ++b) {
    const std::string raw(1, static_cast<char>(b));
    EXPECT_EQ(byte_level_text_to_bytes(bytes_to_byte_level_text(raw)), raw);
  }
}

TEST(TokenizerBpe, MergesByRankLowestFirst) {
  // "abc": (b,c) ranks before (a,b), so "a"+"bc"; then (a,bc) makes "abc".
  const Merges merges = {{"b", "c"}, {"a", "b"}, {"a", "bc"}};
  const Tokenizer t(make_byte_level_vocabulary(merges, "gpt-2"));
  EXPECT_EQ(t.encode("abc", false, false), Ids({id_of(t, "abc")}));
  EXPECT_EQ(t.encode("ab", false, false), Ids({id_of(t, "ab")}));
  // "abab": both (a,b) pairs merge; there is no (ab,ab).
  EXPECT_EQ(t.encode("abab", false, false), Ids({id_of(t, "ab"), id_of(t, "ab")}));
  // Pre-tokenization splits " abc" as one word with its space: Ġ stays alone.
  EXPECT_EQ(t.encode("x abc", false, false), Ids({'x', ' ', id_of(t, "abc")}));
}

TEST(TokenizerBpe, EqualRankMergesLeftmostFirst) {
  const Merges merges = {{"a", "a"}};
  const Tokenizer t(make_byte_level_vocabulary(merges, "gpt-2"));
  EXPECT_EQ(t.encode("aaa", false, false), Ids({id_of(t, "aa"), 'a'}));
}

TEST(TokenizerBpe, IgnoreMergesEmitsWholeWordTokens) {
  // "abc" is a token, but no merge path reaches it from the ranks: (a,b) then (ab,c) missing.
  Merges merges = {{"a", "b"}};
  Vocabulary v = make_byte_level_vocabulary(merges, "llama3");
  v.tokens.push_back("abc");
  v.types.push_back(TokenType::Normal);
  v.ignore_merges = false;
  const Tokenizer plain(v);
  EXPECT_EQ(plain.encode("abc", false, false), Ids({id_of(plain, "ab"), 'c'}));
  v.ignore_merges = true;
  const Tokenizer whole(v);
  EXPECT_EQ(whole.encode("abc", false, false), Ids({id_of(whole, "abc")}));
}

TEST(TokenizerBpe, InvalidUtf8BecomesReplacementCharacters) {
  const Tokenizer t(make_byte_level_vocabulary({}, "gpt-2"));
  // Each bad byte -> U+FFFD (EF BF BD), as llama.cpp.
  const Ids ids = t.encode("a\xFF", false, false);
  EXPECT_EQ(ids, Ids({'a', 0xEF, 0xBF, 0xBD}));
  EXPECT_EQ(t.decode(ids), "a\xEF\xBF\xBD");
}

TEST(TokenizerBpe, BytesWithoutATokenAreDropped) {
  Vocabulary v = make_byte_level_vocabulary({}, "gpt-2");
  v.tokens[3] = "[no byte 3]";  // byte 0x03 now has no token, and there is no unknown token
  const Tokenizer t(std::move(v));
  EXPECT_EQ(t.encode("a\x03" "b", false, false), Ids({'a', 'b'}));
}

TEST(TokenizerBpe, AddPrefixSpaceAddsOneSpaceWhereMissing) {
  Vocabulary v = make_byte_level_vocabulary({}, "gpt-2");
  v.add_space_prefix = true;
  const Tokenizer t(std::move(v));
  EXPECT_EQ(t.encode("a", false, false), Ids({' ', 'a'}));
  EXPECT_EQ(t.encode(" a", false, false), Ids({' ', 'a'}));
}

TEST(TokenizerBpe, DecodeRoundTripsValidUtf8) {
  const Merges merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {" ", "w"}};
  const Tokenizer t(make_byte_level_vocabulary(merges, "llama3"));
  for (const std::string text : {"hello world", "  \n\t x", "Äpfel 🦙 нещо", "12345", ""}) {
    EXPECT_EQ(t.decode(t.encode(text, false, false)), text);
  }
}

}  // namespace
}  // namespace lockstep::tokenizer
