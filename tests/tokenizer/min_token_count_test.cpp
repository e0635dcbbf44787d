// Tokenizer::min_token_count and max_token_bytes: the bound is never above the real count, for
// any parse_special and literal spans, on synthetic and fixture vocabularies and on inputs made
// to defeat it (typed '▁', long whitespace, invalid UTF-8, special-token texts, bytes a
// vocabulary has no token for); max_token_bytes counts the input bytes a token stands for.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "format/gguf_file.h"
#include "tokenizer/gguf_vocabulary.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {
namespace {

std::vector<std::string> inputs() {
  std::string typed_marks, mixed, specials, random;
  for (int i = 0; i < 5000; ++i) typed_marks += "▁▁▁▁ ";
  for (int i = 0; i < 2000; ++i) mixed += "In the beginning\t\xFF\xC3 é 🦙 ▁x";
  for (int i = 0; i < 2000; ++i) specials += "<s></s><|im_start|><|endoftext|><unk>";
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) random += static_cast<char>(rng());
  return {"",
          "a",
          "Hello world",
          std::string(20000, ' '),
          std::string(20000, '\n'),
          std::string(20000, 'a'),
          std::string(20000, '\xFF'),
          typed_marks,
          mixed,
          specials,
          random};
}

void expect_lower_bound(const Tokenizer& t, const std::string& name) {
  for (const std::string& text : inputs()) {
    const std::vector<TextSpan> whole = {{0, text.size()}};
    for (bool add_special : {false, true}) {
      const std::int64_t bound = t.min_token_count(text, add_special);
      for (bool parse_special : {false, true}) {
        const auto n = static_cast<std::int64_t>(t.encode(text, add_special, parse_special).size());
        EXPECT_LE(bound, n) << name << ": " << text.substr(0, 40);
      }
      const auto literal = static_cast<std::int64_t>(t.encode(text, add_special, true, whole).size());
      EXPECT_LE(bound, literal) << name;
    }
  }
}

TEST(TokenizerMinTokenCount, MaxTokenBytesCountsInputBytes) {
  // Byte-level BPE: "ĠĠĠĠ" is 8 bytes as stored, 4 spaces of input.
  const std::vector<std::pair<std::string, std::string>> spaces = {{" ", " "}, {"  ", "  "}};
  EXPECT_EQ(Tokenizer(make_byte_level_vocabulary(spaces, "gpt-2")).max_token_bytes(), 4u);
  // A special token stands for its text as written.
  EXPECT_EQ(Tokenizer(make_byte_level_vocabulary(spaces, "gpt-2",
                                                 {{"<|im_start|>", TokenType::Control}}))
                .max_token_bytes(),
            12u);
  // SentencePiece: "▁▁" can be two typed '▁' (6 bytes); <unk> is the longest special (5).
  const Tokenizer spm(make_sentencepiece_vocabulary({{"▁", -1.0f}, {"a", -1.0f}, {"▁▁", -2.0f}}));
  EXPECT_EQ(spm.max_token_bytes(), 6u);
  // A typed '▁' after the space prefix: 3 bytes of input in one token whose piece is 2 spaces.
  EXPECT_EQ(spm.encode("▁", false, false).size(), 1u);
  EXPECT_EQ(spm.token_to_piece(spm.encode("▁", false, false)[0]), "  ");
  EXPECT_EQ(spm.min_token_count(std::string(600, 'a'), false), 100);
  EXPECT_EQ(spm.min_token_count(std::string(600, 'a'), true), 101);  // + BOS
  EXPECT_EQ(spm.min_token_count("", false), 0);
}

TEST(TokenizerMinTokenCount, SyntheticVocabularies) {
  const std::vector<std::pair<std::string, std::string>> merges = {
      {" ", " "}, {"  ", "  "}, {"a", "a"}, {"aa", "aa"}, {"\n", "\n"}};
  const std::vector<SyntheticToken> specials = {{"<|im_start|>", TokenType::Control},
                                                {"<|endoftext|>", TokenType::UserDefined}};
  expect_lower_bound(Tokenizer(make_byte_level_vocabulary(merges, "qwen2", specials)), "bpe");
  expect_lower_bound(Tokenizer(make_sentencepiece_vocabulary(
                         {{"▁", -1.0f}, {"a", -1.0f}, {"aa", -0.5f}, {"▁▁", -2.0f},
                          {"▁▁▁▁", -3.0f}, {"▁a", -1.5f}},
                         specials)),
                     "spm");
}

// Vocabularies that drop bytes they have no token for: only bytes that always end up in a
// token are counted.
TEST(TokenizerMinTokenCount, VocabulariesWithoutEveryByte) {
  Vocabulary spm;
  spm.kind = VocabKind::SentencePiece;
  spm.tokens = {"<s>", "</s>", "▁", "a", "aaaa"};
  spm.types = {TokenType::Control, TokenType::Control, TokenType::Normal, TokenType::Normal,
               TokenType::Normal};
  spm.scores = {0, 0, -1, -1, -0.5f};
  spm.bos_id = 0;
  spm.eos_id = 1;
  const Tokenizer s(spm);
  EXPECT_EQ(s.encode("bbbb", false, false).size(), 1u);  // '▁'; every 'b' is dropped
  EXPECT_EQ(s.min_token_count("bbbb", false), 0);
  expect_lower_bound(s, "spm without bytes");

  Vocabulary bpe;
  bpe.kind = VocabKind::ByteLevelBpe;
  bpe.pre_tokenizer = "gpt-2";
  bpe.tokens = {"a", "b", "Ġ", "<|endoftext|>"};
  bpe.types = {TokenType::Normal, TokenType::Normal, TokenType::Normal, TokenType::Control};
  bpe.add_bos = false;
  bpe.add_space_prefix = false;
  const Tokenizer b(bpe);
  EXPECT_EQ(b.encode("a c\xFF", false, false).size(), 2u);  // 'c' and U+FFFD are dropped
  EXPECT_LE(b.min_token_count("a c\xFF", false), 2);
  expect_lower_bound(b, "bpe without bytes");
}

TEST(TokenizerMinTokenCount, FixtureVocabularies) {
  const std::string dir = LOCKSTEP_SHARED_DIR "/fixtures/tokenizers/";
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
                           "ggml-vocab-gpt-2.gguf", "ggml-vocab-falcon.gguf"}) {
    if (!std::filesystem::exists(dir + name)) GTEST_SKIP() << "fixture missing: " << dir + name;
    const Tokenizer t(vocabulary_from_gguf(model::GgufFile::open(dir + name)));
    EXPECT_GE(t.max_token_bytes(), 4u) << name;
    expect_lower_bound(t, name);
  }
}

}  // namespace
}  // namespace lockstep::tokenizer
