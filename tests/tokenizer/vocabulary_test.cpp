// Vocabulary validation, defaults, and the GGUF loader on small GGUF files built in memory.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "format/gguf_file.h"
#include "tokenizer/gguf_vocabulary.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {
namespace {

std::string error_of(const Vocabulary& v) {
  try {
    validate_vocabulary(v);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(TokenizerVocabulary, DefaultsFollowLlamaCpp) {
  EXPECT_TRUE(default_flags(VocabKind::SentencePiece).add_bos);
  EXPECT_TRUE(default_flags(VocabKind::SentencePiece).add_space_prefix);
  EXPECT_FALSE(default_flags(VocabKind::ByteLevelBpe).add_bos);
  EXPECT_FALSE(default_flags(VocabKind::ByteLevelBpe).add_space_prefix);
  EXPECT_EQ(vocab_kind_name(VocabKind::SentencePiece), "llama");
  EXPECT_EQ(vocab_kind_name(VocabKind::ByteLevelBpe), "gpt2");
}

TEST(TokenizerVocabulary, ValidationRejectsBadData) {
  EXPECT_EQ(error_of(make_sentencepiece_vocabulary({})), "no error");
  Vocabulary empty;
  empty.add_bos = false;
  EXPECT_NE(error_of(empty).find("no tokens"), std::string::npos);

  Vocabulary dup = make_sentencepiece_vocabulary({{"a", 0.0f}, {"a", 0.0f}});
  EXPECT_NE(error_of(dup).find("appears twice"), std::string::npos);

  Vocabulary bad_id = make_sentencepiece_vocabulary({});
  bad_id.eos_id = 100000;
  EXPECT_NE(error_of(bad_id).find("EOS token id"), std::string::npos);

  Vocabulary no_bos = make_sentencepiece_vocabulary({});
  no_bos.bos_id.reset();
  EXPECT_NE(error_of(no_bos).find("add_bos"), std::string::npos);

  Vocabulary scores = make_sentencepiece_vocabulary({});
  scores.scores.pop_back();
  EXPECT_NE(error_of(scores).find("scores"), std::string::npos);

  Vocabulary nan = make_sentencepiece_vocabulary({{"a", std::nanf("")}});
  EXPECT_NE(error_of(nan).find("NaN"), std::string::npos);

  Vocabulary merges = make_byte_level_vocabulary({{"a", "b"}}, "gpt-2");
  merges.merges.emplace_back("zz", "b");
  EXPECT_NE(error_of(merges).find("not a token"), std::string::npos);

  Vocabulary spm_merges = make_sentencepiece_vocabulary({});
  spm_merges.merges.emplace_back("a", "b");
  EXPECT_NE(error_of(spm_merges).find("merges"), std::string::npos);

  Vocabulary pre = make_byte_level_vocabulary({}, "no-such-pre");
  const std::string message = error_of(pre);
  EXPECT_NE(message.find("no-such-pre"), std::string::npos);
  EXPECT_NE(message.find("llama3"), std::string::npos);  // lists the known names
  EXPECT_THROW(Tokenizer{pre}, Error);

  Vocabulary regex = make_byte_level_vocabulary({}, "gpt-2");
  regex.split_regexes = {"(oops"};
  EXPECT_THROW(Tokenizer{regex}, Error);
}

TEST(TokenizerVocabulary, ConventionalEndOfGenerationTokens) {
  Vocabulary v = make_byte_level_vocabulary(
      {}, "gpt-2",
      std::vector<SyntheticToken>{{"<|im_end|>", TokenType::Control},
                                  {"<|eot_id|>", TokenType::Normal}});
  add_conventional_end_of_generation_ids(v);
  EXPECT_EQ(v.extra_end_of_generation_ids, std::vector<std::int32_t>{256});
  const Tokenizer t(v);
  EXPECT_TRUE(t.is_end_of_generation(256));
  EXPECT_FALSE(t.is_end_of_generation(257));
}

// --- a minimal GGUF writer, enough for tokenizer metadata ------------------------------------

class GgufBuilder {
 public:
  void add_string(const std::string& key, const std::string& value) {
    key_header(key, 8);
    string(value);
  }
  void add_u32(const std::string& key, std::uint32_t value) {
    key_header(key, 4);
    raw(&value, 4);
  }
  void add_bool(const std::string& key, bool value) {
    key_header(key, 7);
    const std::uint8_t b = value;
    raw(&b, 1);
  }
  void add_strings(const std::string& key, const std::vector<std::string>& values) {
    key_header(key, 9);
    u32(8);
    u64(values.size());
    for (const auto& v : values) string(v);
  }
  void add_i32s(const std::string& key, const std::vector<std::int32_t>& values) {
    key_header(key, 9);
    u32(5);
    u64(values.size());
    for (std::int32_t v : values) raw(&v, 4);
  }
  model::GgufFile parse() {
    std::vector<std::uint8_t> bytes = {'G', 'G', 'U', 'F'};
    auto put = [&bytes](const void* p, std::size_t n) {
      const auto* b = static_cast<const std::uint8_t*>(p);
      bytes.insert(bytes.end(), b, b + n);
    };
    const std::uint32_t version = 3;
    const std::uint64_t n_tensors = 0;
    put(&version, 4);
    put(&n_tensors, 8);
    put(&count_, 8);
    bytes.insert(bytes.end(), body_.begin(), body_.end());
    while (bytes.size() % 32 != 0) bytes.push_back(0);
    storage_ = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
    return model::GgufFile::parse(MappedFile::from_static_memory(*storage_, "test.gguf"));
  }

 private:
  void raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    body_.insert(body_.end(), b, b + n);
  }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  void string(const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void key_header(const std::string& key, std::uint32_t type) {
    ++count_;
    string(key);
    u32(type);
  }
  std::vector<std::uint8_t> body_;
  std::uint64_t count_ = 0;
  std::shared_ptr<std::vector<std::uint8_t>> storage_;  // outlives the parsed file in a test
};

std::vector<std::string> byte_level_tokens() {
  const Vocabulary v = make_byte_level_vocabulary({{"a", "b"}}, "gpt-2");
  return v.tokens;
}

TEST(TokenizerGgufVocabulary, ReadsAByteLevelVocabulary) {
  GgufBuilder b;
  b.add_string("tokenizer.ggml.model", "gpt2");
  b.add_string("tokenizer.ggml.pre", "llama-bpe");
  b.add_strings("tokenizer.ggml.tokens", byte_level_tokens());
  b.add_strings("tokenizer.ggml.merges", {"a b"});
  b.add_u32("tokenizer.ggml.eos_token_id", 256);
  b.add_u32("tokenizer.ggml.bos_token_id", 97);
  b.add_string("tokenizer.chat_template", "<|im_start|>");
  const model::GgufFile file = b.parse();
  const Vocabulary v = vocabulary_from_gguf(file);
  EXPECT_EQ(v.kind, VocabKind::ByteLevelBpe);
  EXPECT_TRUE(v.add_bos);  // the llama3 family adds BOS when the file is silent
  EXPECT_TRUE(v.ignore_merges);
  EXPECT_FALSE(v.add_space_prefix);
  EXPECT_EQ(v.eos_id, 256);
  EXPECT_EQ(v.chat_template, "<|im_start|>");
  EXPECT_EQ(Tokenizer(v).encode("ab", false, false), std::vector<std::int32_t>{256});
}

TEST(TokenizerGgufVocabulary, ReadsASentencePieceVocabularyWithDefaults) {
  GgufBuilder b;
  b.add_string("tokenizer.ggml.model", "llama");
  const Vocabulary synthetic = make_sentencepiece_vocabulary({{"▁a", -1.0f}});
  b.add_strings("tokenizer.ggml.tokens", synthetic.tokens);
  std::vector<std::int32_t> types;
  for (TokenType t : synthetic.types) types.push_back(static_cast<std::int32_t>(t));
  b.add_i32s("tokenizer.ggml.token_type", types);
  b.add_bool("tokenizer.ggml.add_space_prefix", false);
  const model::GgufFile file = b.parse();
  const Vocabulary v = vocabulary_from_gguf(file);
  EXPECT_EQ(v.kind, VocabKind::SentencePiece);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_space_prefix);
  EXPECT_EQ(v.type_of(3), TokenType::Byte);
}

TEST(TokenizerGgufVocabulary, ErrorsNameTheProblem) {
  auto message = [](GgufBuilder& b) -> std::string {
    try {
      vocabulary_from_gguf(b.parse());
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  GgufBuilder bert;
  bert.add_string("tokenizer.ggml.model", "bert");
  bert.add_strings("tokenizer.ggml.tokens", {"a"});
  EXPECT_NE(message(bert).find("unsupported tokenizer 'bert'"), std::string::npos);

  GgufBuilder pre;
  pre.add_string("tokenizer.ggml.model", "gpt2");
  pre.add_string("tokenizer.ggml.pre", "mystery");
  pre.add_strings("tokenizer.ggml.tokens", byte_level_tokens());
  pre.add_strings("tokenizer.ggml.merges", {"a b"});
  const std::string pre_message = message(pre);
  EXPECT_NE(pre_message.find("unknown pre-tokenizer 'mystery'"), std::string::npos);
  EXPECT_NE(pre_message.find("qwen2"), std::string::npos);

  GgufBuilder merge;
  merge.add_string("tokenizer.ggml.model", "gpt2");
  merge.add_string("tokenizer.ggml.pre", "gpt-2");
  merge.add_strings("tokenizer.ggml.tokens", byte_level_tokens());
  merge.add_strings("tokenizer.ggml.merges", {"ab"});
  EXPECT_NE(message(merge).find("tokenizer.ggml.merges[0]"), std::string::npos);

  GgufBuilder types;
  types.add_string("tokenizer.ggml.model", "llama");
  types.add_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  types.add_i32s("tokenizer.ggml.token_type", {2, 3});
  EXPECT_NE(message(types).find("token_type"), std::string::npos);

  GgufBuilder id;
  id.add_string("tokenizer.ggml.model", "llama");
  id.add_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  id.add_u32("tokenizer.ggml.bos_token_id", 7);
  EXPECT_NE(message(id).find("BOS token id is 7"), std::string::npos);

  GgufBuilder missing;
  missing.add_string("tokenizer.ggml.model", "llama");
  EXPECT_NE(message(missing).find("tokenizer.ggml.tokens"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::tokenizer
