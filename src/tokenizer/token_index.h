// Text -> token id lookup over a vocabulary's token texts. Keys are views into the vocabulary,
// which must outlive the index and not change.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

class TokenIndex {
 public:
  TokenIndex() = default;

  // Indexes every non-empty token text for which `keep(type)` is true.
  template <typename Keep>
  TokenIndex(const Vocabulary& vocabulary, Keep keep) {
    map_.reserve(vocabulary.tokens.size());
    for (std::int32_t id = 0; id < vocabulary.size(); ++id) {
      const std::string& text = vocabulary.tokens[id];
      if (text.empty() || !keep(vocabulary.type_of(id))) continue;
      map_.emplace(text, id);
      if (text.size() > max_length_) max_length_ = text.size();
    }
  }

  // The id of the token with text `text`, or -1.
  std::int32_t find(std::string_view text) const {
    if (text.size() > max_length_) return -1;
    auto it = map_.find(text);
    return it == map_.end() ? -1 : it->second;
  }

  std::size_t max_length() const { return max_length_; }

 private:
  std::unordered_map<std::string_view, std::int32_t> map_;
  std::size_t max_length_ = 0;
};

// The token types plain text can turn into by merging: not control, unknown, byte or unused
// tokens (SentencePiece never produces those from text either).
inline bool is_mergeable_type(TokenType type) {
  return type != TokenType::Control && type != TokenType::Unknown && type != TokenType::Byte &&
         type != TokenType::Unused;
}

}  // namespace lockstep::tokenizer
