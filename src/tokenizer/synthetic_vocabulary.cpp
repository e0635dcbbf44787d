#include "tokenizer/synthetic_vocabulary.h"

#include <unordered_set>

#include "tokenizer/byte_unicode.h"

namespace lockstep::tokenizer {
namespace {

void add(Vocabulary& v, std::string text, TokenType type, float score = 0.0f) {
  v.tokens.push_back(std::move(text));
  v.types.push_back(type);
  v.scores.push_back(score);
}

}  // namespace

Vocabulary make_sentencepiece_vocabulary(
    const std::vector<std::pair<std::string, float>>& pieces,
    const std::vector<SyntheticToken>& specials) {
  Vocabulary v;
  v.kind = VocabKind::SentencePiece;
  v.source = "synthetic SentencePiece vocabulary";
  add(v, "<unk>", TokenType::Unknown);
  add(v, "<s>", TokenType::Control);
  add(v, "</s>", TokenType::Control);
  for (unsigned b = 0; b < 256; ++b) {
    add(v, byte_token_text(static_cast<std::uint8_t>(b)), TokenType::Byte);
  }
  for (const auto& [text, score] : pieces) add(v, text, TokenType::Normal, score);
  for (const SyntheticToken& s : specials) add(v, s.text, s.type);
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  const DefaultFlags flags = default_flags(v.kind);
  v.add_bos = flags.add_bos;
  v.add_eos = flags.add_eos;
  v.add_space_prefix = flags.add_space_prefix;
  add_conventional_end_of_generation_ids(v);
  return v;
}

Vocabulary make_byte_level_vocabulary(
    const std::vector<std::pair<std::string, std::string>>& merges,
    const std::string& pre_tokenizer, const std::vector<SyntheticToken>& specials) {
  Vocabulary v;
  v.kind = VocabKind::ByteLevelBpe;
  v.source = "synthetic byte-level vocabulary";
  v.pre_tokenizer = pre_tokenizer;
  for (unsigned b = 0; b < 256; ++b) {
    v.tokens.push_back(byte_to_unicode_utf8(static_cast<std::uint8_t>(b)));
    v.types.push_back(TokenType::Normal);
  }
  std::unordered_set<std::string> known(v.tokens.begin(), v.tokens.end());
  for (const auto& [left, right] : merges) {
    std::string a = bytes_to_byte_level_text(left);
    std::string b = bytes_to_byte_level_text(right);
    std::string joined = a + b;
    if (known.insert(joined).second) {
      v.tokens.push_back(joined);
      v.types.push_back(TokenType::Normal);
    }
    v.merges.emplace_back(std::move(a), std::move(b));
  }
  for (const SyntheticToken& s : specials) {
    v.tokens.push_back(s.text);
    v.types.push_back(s.type);
  }
  const DefaultFlags flags = default_flags(v.kind);
  v.add_bos = flags.add_bos;
  v.add_eos = flags.add_eos;
  v.add_space_prefix = flags.add_space_prefix;
  add_conventional_end_of_generation_ids(v);
  return v;
}

}  // namespace lockstep::tokenizer
