// Hugging Face tokenizer.json (+ tokenizer_config.json): the byte-level and the
// SentencePiece-converted layouts, written here by hand, and the errors for anything else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::tokenizer {
namespace {

using Json = nlohmann::json;
using Ids = std::vector<std::int32_t>;

// A byte-level BPE tokenizer.json: the 256 byte characters (ids 0..255), "he" 256, "ll" 257,
// "hell" 258, "Ġw" 259, added tokens <|endoftext|> 260 (special) and <tool> 261 (not special).
Json byte_level_json() {
  Json vocab = Json::object();
  for (unsigned b = 0; b < 256; ++b) vocab[byte_to_unicode_utf8(static_cast<std::uint8_t>(b))] = b;
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["Ġw"] = 259;
  return {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 260}, {"content", "<|endoftext|>"}, {"special", true}},
        {{"id", 261}, {"content", "<tool>"}, {"special", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern",
            {{"Regex",
              R"(\p{N}{1,3}|[^\r\n\p{L}\p{N}]?\p{L}+|\s+(?!\S)|\s+| ?[^\s\p{L}\p{N}]+)"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"vocab", vocab},
        // Both spellings of a merge.
        {"merges", {"h e", Json::array({"l", "l"}), "he ll", Json::array({"Ġ", "w"})}}}},
  };
}

// A SentencePiece-converted tokenizer.json (Llama 2 style): <unk> 0, <s> 1, </s> 2, bytes
// <0x00>.. 3..258, then ▁ 259, h 260, i 261, ▁h 262, ▁hi 263.
Json sentencepiece_json() {
  Json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (unsigned b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  vocab["▁"] = 259;
  vocab["h"] = 260;
  vocab["i"] = 261;
  vocab["▁h"] = 262;
  vocab["▁hi"] = 263;
  return {
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "▁"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", Json::parse(R"({"type": "TemplateProcessing", "single": [
           {"SpecialToken": {"id": "<s>", "type_id": 0}},
           {"Sequence": {"id": "A", "type_id": 0}}]})")},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"byte_fallback", true},
        {"fuse_unk", true},
        {"vocab", vocab},
        {"merges", {"▁ h", "▁h i"}}}},
  };
}

Vocabulary load(const Json& json, const Json& config = nullptr) {
  return vocabulary_from_tokenizer_json_text(json.dump(), config.is_null() ? "" : config.dump(),
                                             "test tokenizer.json");
}

std::string error_of(const Json& json, const Json& config = nullptr) {
  try {
    load(json, config);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(TokenizerHfJson, ByteLevelTokenizer) {
  const Json config = {{"bos_token", {{"content", "<|endoftext|>"}, {"lstrip", false}}},
                       {"eos_token", "<|endoftext|>"},
                       {"add_bos_token", true},
                       {"chat_template", "{% for m in messages %}<|im_start|>{% endfor %}"}};
  const Vocabulary v = load(byte_level_json(), config);
  EXPECT_EQ(v.kind, VocabKind::ByteLevelBpe);
  ASSERT_EQ(v.split_regexes.size(), 1u);
  EXPECT_EQ(v.pre_tokenizer, "");  // no catalog entry splits like this
  EXPECT_EQ(v.bos_id, 260);
  EXPECT_EQ(v.eos_id, 260);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_space_prefix);
  EXPECT_EQ(v.type_of(260), TokenType::Control);
  EXPECT_EQ(v.type_of(261), TokenType::UserDefined);
  ASSERT_TRUE(v.chat_template.has_value());

  const Tokenizer t(v);
  EXPECT_EQ(t.encode("hell", false, false), Ids({258}));
  EXPECT_EQ(t.encode("hello world", true, false), Ids({260, 258, 'o', 259, 'o', 'r', 'l', 'd'}));
  EXPECT_EQ(t.encode("<|endoftext|><tool>", false, true), Ids({260, 261}));
  EXPECT_TRUE(t.is_end_of_generation(260));
}

TEST(TokenizerHfJson, ByteLevelWithGpt2RegexAndPrefixSpace) {
  Json json = byte_level_json();
  json["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  const Vocabulary v = load(json);
  EXPECT_EQ(v.split_regexes.size(), 1u);
  EXPECT_EQ(v.pre_tokenizer, "gpt-2");
  EXPECT_TRUE(v.add_space_prefix);
  EXPECT_FALSE(v.add_bos);
  const Tokenizer t(v);
  EXPECT_EQ(t.encode("w", false, false), Ids({259}));
}

TEST(TokenizerHfJson, SentencePieceTokenizer) {
  const Vocabulary v = load(sentencepiece_json());
  EXPECT_EQ(v.kind, VocabKind::SentencePiece);
  EXPECT_TRUE(v.add_space_prefix);
  EXPECT_TRUE(v.add_bos);  // from the TemplateProcessing post-processor
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.type_of(0), TokenType::Unknown);
  EXPECT_EQ(v.type_of(1), TokenType::Control);
  EXPECT_EQ(v.type_of(3), TokenType::Byte);
  EXPECT_EQ(v.score_of(262), 0.0f);   // "▁h": rank 0
  EXPECT_EQ(v.score_of(263), -1.0f);  // "▁hi": rank 1

  const Tokenizer t(v);
  EXPECT_EQ(t.encode("hi", true, false), Ids({1, 263}));
  EXPECT_EQ(t.encode("hi h", false, false), Ids({263, 262}));
  EXPECT_EQ(t.encode("hx", false, false), Ids({262, 3 + 'x'}));
  EXPECT_EQ(t.decode(t.encode("hi hx", true, false)), "hi hx");
}

TEST(TokenizerHfJson, MetaspacePreTokenizer) {
  Json json = sentencepiece_json();
  json["normalizer"] = nullptr;
  json["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"},
                           {"prepend_scheme", "first"}, {"split", false}};
  const Json config = {{"bos_token", "<s>"}, {"add_bos_token", false}, {"add_eos_token", true},
                       {"eos_token", {{"content", "</s>"}}}};
  const Vocabulary v = load(json, config);
  EXPECT_EQ(v.kind, VocabKind::SentencePiece);
  EXPECT_TRUE(v.add_space_prefix);
  EXPECT_FALSE(v.add_bos);
  EXPECT_TRUE(v.add_eos);
  EXPECT_EQ(Tokenizer(v).encode("hi", true, false), Ids({263, 2}));
}

TEST(TokenizerHfJson, ReadsFilesFromDisk) {
  const std::filesystem::path dir =
      std::filesystem::path(LOCKSTEP_TEST_TMP) / "tokenizer_hf_json_test";
  std::filesystem::create_directories(dir);
  const auto tokenizer_path = (dir / "tokenizer.json").string();
  const auto config_path = (dir / "tokenizer_config.json").string();
  std::ofstream(tokenizer_path) << sentencepiece_json().dump();
  std::ofstream(config_path) << Json{{"add_bos_token", false}}.dump();
  const Vocabulary v = vocabulary_from_tokenizer_json(tokenizer_path, config_path);
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(v.source, tokenizer_path);
  EXPECT_TRUE(vocabulary_from_tokenizer_json(tokenizer_path, "").add_bos);
  EXPECT_THROW(vocabulary_from_tokenizer_json((dir / "missing.json").string(), ""), Error);
}

TEST(TokenizerHfJson, ErrorsNameTheField) {
  Json json = byte_level_json();
  json["model"]["type"] = "WordPiece";
  EXPECT_NE(error_of(json).find("model.type"), std::string::npos);

  json = byte_level_json();
  json["model"]["merges"].push_back("x q");  // "xq" is not a token
  EXPECT_NE(error_of(json).find("model.merges[4]"), std::string::npos);

  json = byte_level_json();
  json["model"]["merges"].push_back(42);
  EXPECT_NE(error_of(json).find("model.merges[4]"), std::string::npos);

  json = byte_level_json();
  json["model"]["vocab"]["zz"] = 5000;  // leaves a hole
  EXPECT_NE(error_of(json).find("model.vocab"), std::string::npos);

  json = byte_level_json();
  json["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  EXPECT_NE(error_of(json).find("pre_tokenizer.pretokenizers[0].behavior"), std::string::npos);

  json = byte_level_json();
  json["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  EXPECT_NE(error_of(json).find("pre_tokenizer.pretokenizers[0].pattern.Regex"),
            std::string::npos);

  json = byte_level_json();
  json["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_NE(error_of(json).find("normalizer"), std::string::npos);

  json = sentencepiece_json();
  json["normalizer"] = nullptr;
  EXPECT_NE(error_of(json).find("normalizer"), std::string::npos);

  json = byte_level_json();
  json["model"]["dropout"] = 0.1;
  EXPECT_NE(error_of(json).find("model.dropout"), std::string::npos);

  json = byte_level_json();
  json["added_tokens"][0]["content"] = "hell";  // id 260 vs "hell" = 258: two ids for one text
  EXPECT_NE(error_of(json).find("hell"), std::string::npos);

  const Json config = {{"bos_token", "<nope>"}};
  EXPECT_NE(error_of(byte_level_json(), config).find("bos_token"), std::string::npos);
}

TEST(TokenizerHfJson, MalformedJsonIsAnError) {
  EXPECT_THROW(vocabulary_from_tokenizer_json_text("{", "", "x"), Error);
  EXPECT_THROW(vocabulary_from_tokenizer_json_text("[]", "", "x"), Error);
  EXPECT_THROW(vocabulary_from_tokenizer_json_text("\"\xFF\"", "", "x"), Error);
  EXPECT_THROW(vocabulary_from_tokenizer_json_text(std::string(100000, '['), "", "x"), Error);
  EXPECT_THROW(vocabulary_from_tokenizer_json_text(byte_level_json().dump(), "{", "x"), Error);
}

}  // namespace
}  // namespace lockstep::tokenizer
