#include "tokenizer/vocabulary.h"

#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/pre_tokenizer_catalog.h"

namespace lockstep::tokenizer {
namespace {

std::string label(const Vocabulary& v) { return v.source.empty() ? "vocabulary" : v.source; }

void check_id(const Vocabulary& v, const std::optional<std::int32_t>& id, const char* field) {
  if (id && (*id < 0 || *id >= v.size())) {
    fail("{}: {} is {}, outside the vocabulary of {} tokens", label(v), field, *id, v.size());
  }
}

}  // namespace

std::string_view vocab_kind_name(VocabKind kind) {
  return kind == VocabKind::SentencePiece ? "llama" : "gpt2";
}

DefaultFlags default_flags(VocabKind kind) {
  if (kind == VocabKind::SentencePiece) return {true, false, true};
  return {false, false, false};
}

std::string byte_token_text(std::uint8_t byte) { return fmt::format("<0x{:02X}>", byte); }

void validate_vocabulary(const Vocabulary& v) {
  const std::string name = label(v);
  if (v.tokens.empty()) fail("{}: the vocabulary has no tokens", name);
  if (v.tokens.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    fail("{}: the vocabulary has {} tokens, more than token ids can number", name,
         v.tokens.size());
  }
  const std::size_t n = v.tokens.size();
  if (!v.scores.empty() && v.scores.size() != n) {
    fail("{}: there are {} scores for {} tokens", name, v.scores.size(), n);
  }
  if (!v.types.empty() && v.types.size() != n) {
    fail("{}: there are {} token types for {} tokens", name, v.types.size(), n);
  }
  for (std::size_t i = 0; i < v.scores.size(); ++i) {
    if (std::isnan(v.scores[i])) fail("{}: the score of token {} is NaN", name, i);
  }
  for (std::size_t i = 0; i < v.types.size(); ++i) {
    if (static_cast<unsigned>(v.types[i]) > static_cast<unsigned>(TokenType::Byte)) {
      fail("{}: token {} has type {} (GGUF token types are 0 to 6)", name, i,
           static_cast<unsigned>(v.types[i]));
    }
  }

  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (v.tokens[i].empty()) continue;
    auto [it, inserted] = index.emplace(v.tokens[i], i);
    if (!inserted) {
      fail("{}: token text '{}' appears twice (ids {} and {})", name, v.tokens[i], it->second, i);
    }
  }

  if (v.kind == VocabKind::SentencePiece && !v.merges.empty()) {
    fail("{}: a SentencePiece vocabulary has no merges (it merges by score)", name);
  }
  for (std::size_t r = 0; r < v.merges.size(); ++r) {
    for (const std::string* side : {&v.merges[r].first, &v.merges[r].second}) {
      if (side->empty() || !index.count(*side)) {
        fail("{}: merge {} ('{} {}') refers to '{}', which is not a token", name, r,
             v.merges[r].first, v.merges[r].second, *side);
      }
    }
  }

  check_id(v, v.bos_id, "the BOS token id");
  check_id(v, v.eos_id, "the EOS token id");
  check_id(v, v.unk_id, "the unknown token id");
  check_id(v, v.pad_id, "the padding token id");
  check_id(v, v.eot_id, "the end-of-turn token id");
  check_id(v, v.eom_id, "the end-of-message token id");
  for (std::int32_t id : v.extra_end_of_generation_ids) check_id(v, id, "an end-of-generation id");
  if (v.add_bos && !v.bos_id) fail("{}: add_bos is set but there is no BOS token id", name);
  if (v.add_eos && !v.eos_id) fail("{}: add_eos is set but there is no EOS token id", name);

  if (v.kind == VocabKind::ByteLevelBpe && v.split_regexes.empty() &&
      !find_pre_tokenizer(v.pre_tokenizer)) {
    fail("{}: unknown pre-tokenizer '{}' (known: {})", name, v.pre_tokenizer,
         known_pre_tokenizer_names());
  }
}

void add_conventional_end_of_generation_ids(Vocabulary& v) {
  static const char* const kTexts[] = {
      "<|eot_id|>", "<|im_end|>",    "<|end|>",         "<end_of_turn>",
      "<|endoftext|>", "<|end_of_text|>", "<|eom_id|>", "<EOT>",
      "_<EOT>",     "<|EOT|>",       "<｜end▁of▁sentence｜>", "<end_of_utterance>",
  };
  for (std::int32_t id = 0; id < v.size(); ++id) {
    const TokenType type = v.type_of(id);
    if (type != TokenType::Control && type != TokenType::UserDefined) continue;
    for (const char* text : kTexts) {
      if (v.tokens[id] != text) continue;
      bool known = false;
      for (std::int32_t e : v.extra_end_of_generation_ids) known = known || e == id;
      if (!known) v.extra_end_of_generation_ids.push_back(id);
    }
  }
}

}  // namespace lockstep::tokenizer
