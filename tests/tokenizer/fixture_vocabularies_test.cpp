// The six vocab-only GGUF files from llama.cpp's repository (fixtures/README.md section 1): every
// one of the 46 test inputs must encode (add_special = false, parse_special = false) to exactly
// the ids Hugging Face's tokenizers gave, and decode back to the input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "format/gguf_file.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/gguf_vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {
namespace {

const std::string kDir = LOCKSTEP_SHARED_DIR "/fixtures/tokenizers/";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Tests are separated by "\n__ggml_vocab_test__\n", which also ends the file.
std::vector<std::string> read_inputs(const std::string& path) {
  const std::string text = read_all(path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> tests;
  std::size_t at = 0;
  for (std::size_t hit; (hit = text.find(separator, at)) != std::string::npos;
       at = hit + separator.size()) {
    tests.push_back(text.substr(at, hit - at));
  }
  return tests;
}

std::vector<std::vector<std::int32_t>> read_expected(const std::string& path) {
  std::istringstream in(read_all(path));
  std::vector<std::vector<std::int32_t>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::int32_t> ids;
    for (std::int32_t id; fields >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

struct FixtureVocab {
  const char* file;
  VocabKind kind;
  std::int32_t n_vocab;
  std::int32_t bos;
  std::int32_t eos;
  bool add_bos;
};

void PrintTo(const FixtureVocab& v, std::ostream* os) { *os << v.file; }

class TokenizerFixtures : public ::testing::TestWithParam<FixtureVocab> {};

TEST_P(TokenizerFixtures, EncodesAll46TestsExactlyAndDecodesThemBack) {
  const FixtureVocab& param = GetParam();
  const std::string path = kDir + param.file;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture missing: " << path;

  const Tokenizer tokenizer(vocabulary_from_gguf(model::GgufFile::open(path)));
  EXPECT_EQ(tokenizer.kind(), param.kind);
  EXPECT_EQ(tokenizer.n_vocab(), param.n_vocab);
  EXPECT_EQ(tokenizer.bos_id(), param.bos);
  EXPECT_EQ(tokenizer.eos_id(), param.eos);
  EXPECT_EQ(tokenizer.vocabulary().add_bos, param.add_bos);
  EXPECT_TRUE(tokenizer.is_end_of_generation(param.eos));

  const auto inputs = read_inputs(path + ".inp");
  const auto expected = read_expected(path + ".out");
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(expected.size(), inputs.size());
  int passed = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<std::int32_t> ids = tokenizer.encode(inputs[i], false, false);
    EXPECT_EQ(ids, expected[i]) << param.file << " test " << i << ": '" << inputs[i] << "'";
    passed += ids == expected[i];
    EXPECT_EQ(tokenizer.decode(ids), inputs[i]) << param.file << " test " << i;
  }
  RecordProperty("passed", passed);
  EXPECT_EQ(passed, 46) << param.file;
}

TEST_P(TokenizerFixtures, AddSpecialAddsBosExactlyWhenTheFileSaysSo) {
  const FixtureVocab& param = GetParam();
  const std::string path = kDir + param.file;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture missing: " << path;
  const Tokenizer tokenizer(vocabulary_from_gguf(model::GgufFile::open(path)));
  const auto plain = tokenizer.encode("Hello world", false, false);
  const auto special = tokenizer.encode("Hello world", true, false);
  if (param.add_bos) {
    ASSERT_EQ(special.size(), plain.size() + 1);
    EXPECT_EQ(special.front(), param.bos);
  } else {
    EXPECT_EQ(special, plain);
  }
  // Without BOS rendering, decode gives the text back either way.
  EXPECT_EQ(tokenizer.decode(special), "Hello world");
}

// A chat prompt's content is encoded as text: with the whole input a literal span and
// parse_special on, every test gives llama.cpp's parse_special = false ids, and the size bound
// is never above them. Benign chat prompts tokenize exactly as without spans.
TEST_P(TokenizerFixtures, LiteralSpansGiveThePlainTextIds) {
  const FixtureVocab& param = GetParam();
  const std::string path = kDir + param.file;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture missing: " << path;
  const Tokenizer tokenizer(vocabulary_from_gguf(model::GgufFile::open(path)));
  const auto inputs = read_inputs(path + ".inp");
  const auto expected = read_expected(path + ".out");
  ASSERT_EQ(expected.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<TextSpan> whole = {{0, inputs[i].size()}};
    EXPECT_EQ(tokenizer.encode(inputs[i], false, true, whole), expected[i])
        << param.file << " test " << i;
    EXPECT_LE(tokenizer.min_token_count(inputs[i], false),
              static_cast<std::int64_t>(expected[i].size()))
        << param.file << " test " << i;
  }
  std::vector<ChatMessage> conversation = {{"system", "Be brief."}};
  for (std::size_t i = 0; i < inputs.size(); ++i)
    conversation.push_back({i % 2 == 0 ? "user" : "assistant", inputs[i]});
  for (ChatFormat format : {ChatFormat::Llama2, ChatFormat::Llama3, ChatFormat::ChatML,
                            ChatFormat::Mistral}) {
    const ChatPrompt prompt = format_chat(format, conversation, true);
    EXPECT_EQ(tokenizer.encode(prompt.text, true, true, prompt.content),
              tokenizer.encode(prompt.text, true, true))
        << param.file << " " << chat_format_name(format);
  }
}

INSTANTIATE_TEST_SUITE_P(
    TokenizerVocabs, TokenizerFixtures,
    ::testing::Values(
        FixtureVocab{"ggml-vocab-llama-spm.gguf", VocabKind::SentencePiece, 32000, 1, 2, true},
        FixtureVocab{"ggml-vocab-phi-3.gguf", VocabKind::SentencePiece, 32064, 1, 32000, true},
        FixtureVocab{"ggml-vocab-gpt-2.gguf", VocabKind::ByteLevelBpe, 50257, 50256, 50256, false},
        FixtureVocab{"ggml-vocab-falcon.gguf", VocabKind::ByteLevelBpe, 65024, 11, 11, false},
        FixtureVocab{"ggml-vocab-deepseek-coder.gguf", VocabKind::ByteLevelBpe, 32256, 32013,
                     32014, true},
        FixtureVocab{"ggml-vocab-starcoder.gguf", VocabKind::ByteLevelBpe, 49152, 0, 0, false}),
    [](const ::testing::TestParamInfo<FixtureVocab>& info) {
      std::string name = info.param.file;
      name = name.substr(std::string("ggml-vocab-").size());
      name = name.substr(0, name.find(".gguf"));
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(TokenizerFixtureSpecials, ParseSpecialTurnsControlTextIntoTokens) {
  const std::string path = kDir + "ggml-vocab-llama-spm.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture missing: " << path;
  const Tokenizer tokenizer(vocabulary_from_gguf(model::GgufFile::open(path)));
  // parse_special: "<s>" is BOS, and the text after it gets its own space prefix.
  const auto parsed = tokenizer.encode("<s>Hello", false, true);
  ASSERT_GE(parsed.size(), 2u);
  EXPECT_EQ(parsed[0], 1);
  EXPECT_EQ(std::vector<std::int32_t>(parsed.begin() + 1, parsed.end()),
            tokenizer.encode("Hello", false, false));
  // Without it, "<s>" is plain text and no token 1 appears.
  const auto plain = tokenizer.encode("<s>Hello", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(tokenizer.decode(plain), "<s>Hello");
  EXPECT_EQ(tokenizer.decode(parsed), "Hello");
  EXPECT_EQ(tokenizer.decode(parsed, /*render_special=*/true), "<s> Hello");
}

TEST(TokenizerFixtureSpecials, UserDefinedTokensMatchEvenWithoutParseSpecial) {
  // Phi-3 stores "</s>" as a user-defined token (type 4): llama.cpp matches it always.
  const std::string path = kDir + "ggml-vocab-phi-3.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture missing: " << path;
  const Tokenizer tokenizer(vocabulary_from_gguf(model::GgufFile::open(path)));
  ASSERT_EQ(tokenizer.token_type(2), TokenType::UserDefined);
  const auto ids = tokenizer.encode("a</s>", false, false);
  EXPECT_EQ(ids.back(), 2);
  // The control token <|user|> only with parse_special.
  const auto off = tokenizer.encode("<|user|>", false, false);
  const auto on = tokenizer.encode("<|user|>", false, true);
  EXPECT_EQ(on, std::vector<std::int32_t>{32010});
  EXPECT_GT(off.size(), 1u);
  EXPECT_TRUE(tokenizer.is_end_of_generation(32007));  // <|end|>
}

}  // namespace
}  // namespace lockstep::tokenizer
