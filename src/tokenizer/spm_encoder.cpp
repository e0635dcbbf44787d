#include "tokenizer/spm_encoder.h"

#include <cmath>
#include <queue>

#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {
namespace {

struct Symbol {
  std::size_t start;
  std::size_t length;   // 0 once merged into its left neighbour
  std::int32_t prev;
  std::int32_t next;
  std::int32_t token;   // the token this symbol is, or -1 (a character outside the vocabulary)
};

struct Bigram {
  float score;
  std::int32_t left;
  std::int32_t right;
  std::size_t length;   // bytes of the merged symbol, to recognise stale entries
  std::int32_t token;
};

struct LowerPriority {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

const std::string_view kSpaceMark = "\xE2\x96\x81";  // '▁'

// Whether `text` has a '▁' right after a character that is not '▁'.
bool has_inner_space_mark(std::string_view text) {
  for (std::size_t at = text.find(kSpaceMark, 1); at != std::string_view::npos;
       at = text.find(kSpaceMark, at + 1)) {
    if (at < kSpaceMark.size()) return true;
    if (text.substr(at - kSpaceMark.size(), kSpaceMark.size()) != kSpaceMark) return true;
  }
  return false;
}

}  // namespace

SpmEncoder::SpmEncoder(const Vocabulary& vocabulary, const TokenIndex& mergeable,
                       const std::array<std::int32_t, 256>& byte_tokens)
    : vocabulary_(vocabulary), mergeable_(mergeable), byte_tokens_(byte_tokens) {
  split_at_words_ = true;
  for (std::int32_t id = 0; id < vocabulary.size() && split_at_words_; ++id) {
    if (is_mergeable_type(vocabulary.type_of(id)) && has_inner_space_mark(vocabulary.tokens[id])) {
      split_at_words_ = false;
    }
  }
}

void SpmEncoder::encode(std::string_view text, std::vector<std::int32_t>& out) const {
  if (!split_at_words_) {
    encode_chunk(text, out);
    return;
  }
  std::size_t begin = 0;
  for (std::size_t at = text.find(kSpaceMark, 1); at != std::string_view::npos;
       at = text.find(kSpaceMark, at + 1)) {
    if (at >= begin + kSpaceMark.size() &&
        text.substr(at - kSpaceMark.size(), kSpaceMark.size()) == kSpaceMark) {
      continue;  // inside a run of '▁'
    }
    if (at > begin) encode_chunk(text.substr(begin, at - begin), out);
    begin = at;
  }
  encode_chunk(text.substr(begin), out);
}

void SpmEncoder::encode_chunk(std::string_view text, std::vector<std::int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (std::size_t offset = 0; offset < text.size();) {
    const std::size_t length = decode_utf8_char(text, offset).length;
    const auto index = static_cast<std::int32_t>(symbols.size());
    const std::int32_t token = mergeable_.find(text.substr(offset, length));
    symbols.push_back({offset, length, index - 1, -1, token});
    if (index > 0) symbols[index - 1].next = index;
    offset += length;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, LowerPriority> queue;
  auto try_add = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    const std::size_t length = symbols[left].length + symbols[right].length;
    const std::int32_t token = mergeable_.find(text.substr(symbols[left].start, length));
    if (token < 0) return;
    const float score = vocabulary_.score_of(token);
    if (std::isinf(score) && score < 0) return;
    queue.push({score, left, right, length, token});
  };
  for (std::int32_t i = 1; i < static_cast<std::int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) {
      continue;  // one side has changed since this pair was queued
    }
    left.length = bigram.length;
    left.token = bigram.token;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.token >= 0) {
      out.push_back(s.token);
      continue;
    }
    for (std::size_t b = 0; b < s.length; ++b) {
      const std::int32_t token = byte_tokens_[static_cast<unsigned char>(text[s.start + b])];
      if (token >= 0) out.push_back(token);
    }
  }
}

}  // namespace lockstep::tokenizer
