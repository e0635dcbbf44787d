// Hostile input: invalid UTF-8, 100 KB of one character, long runs of whitespace, many special
// tokens. Each must tokenize (the test timeout catches a quadratic blow-up; bench/ measures
// speed) and, where the text is valid, decode back.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "format/gguf_file.h"
#include "tokenizer/gguf_vocabulary.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {
namespace {

std::vector<std::string> hostile_inputs() {
  std::vector<std::string> inputs = {
      std::string(100000, 'a'), std::string(100000, ' '),  std::string(100000, '\n'),
      std::string(100000, '7'), std::string(100000, '\''), std::string(100000, ' ') + "x",
  };
  std::string tabs, emoji, specials, random;
  for (int i = 0; i < 50000; ++i) tabs += " \t";
  for (int i = 0; i < 25000; ++i) emoji += "🦙";
  for (int i = 0; i < 20000; ++i) specials += "<s></s>";
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) random += static_cast<char>(rng());
  inputs.push_back(tabs);
  inputs.push_back(emoji);
  inputs.push_back(specials);
  inputs.push_back(random);
  inputs.push_back(std::string(100000, '\xFF'));
  return inputs;
}

void exercise(const Tokenizer& t) {
  for (const std::string& input : hostile_inputs()) {
    for (bool parse_special : {false, true}) {
      const auto ids = t.encode(input, true, parse_special);
      EXPECT_FALSE(ids.empty());
      const std::string back = t.decode(ids);
      if (is_valid_utf8(input) && !parse_special) {
        EXPECT_EQ(back, input);
      }
    }
  }
}

TEST(TokenizerHostile, SyntheticVocabularies) {
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"a", "a"}, {"aa", "aa"}, {" ", " "}, {"  ", "  "}, {"\n", "\n"}};
  exercise(Tokenizer(make_byte_level_vocabulary(merges, "llama3")));
  exercise(Tokenizer(make_byte_level_vocabulary(merges, "qwen2")));
  exercise(Tokenizer(make_sentencepiece_vocabulary(
      {{"▁", -1.0f}, {"a", -1.0f}, {"aa", -0.5f}, {"▁▁", -2.0f}, {"▁a", -1.5f}})));
}

TEST(TokenizerHostile, FixtureVocabularies) {
  const std::string dir = LOCKSTEP_SHARED_DIR "/fixtures/tokenizers/";
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-deepseek-coder.gguf"}) {
    if (!std::filesystem::exists(dir + name)) GTEST_SKIP() << "fixture missing: " << dir + name;
    exercise(Tokenizer(vocabulary_from_gguf(model::GgufFile::open(dir + name))));
  }
}

}  // namespace
}  // namespace lockstep::tokenizer
