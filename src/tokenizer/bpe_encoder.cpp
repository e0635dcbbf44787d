#include "tokenizer/bpe_encoder.h"

#include <queue>

#include "tokenizer/byte_unicode.h"

namespace lockstep::tokenizer {
namespace {

struct Symbol {
  std::int32_t token;
  std::int32_t prev;
  std::int32_t next;
  bool alive;
};

struct Candidate {
  std::int32_t rank;
  std::int32_t left;
  std::int32_t right;
  std::int32_t left_token;   // the two tokens when queued, to recognise stale entries
  std::int32_t right_token;
  std::int32_t result;
};

struct LowerPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

BpeEncoder::BpeEncoder(const Vocabulary& vocabulary, const TokenIndex& all_tokens,
                       const TokenIndex& whole_words,
                       const std::array<std::int32_t, 256>& byte_tokens)
    : whole_words_(whole_words),
      ignore_merges_(vocabulary.ignore_merges),
      byte_tokens_(byte_tokens) {
  merges_.reserve(vocabulary.merges.size());
  std::string joined;
  for (std::size_t rank = 0; rank < vocabulary.merges.size(); ++rank) {
    const auto& [first, second] = vocabulary.merges[rank];
    joined = first;
    joined += second;
    const std::int32_t left = all_tokens.find(first);
    const std::int32_t right = all_tokens.find(second);
    const std::int32_t result = all_tokens.find(joined);
    if (left < 0 || right < 0 || result < 0) continue;
    merges_.emplace(key(left, right), Merge{static_cast<std::int32_t>(rank), result});
  }
}

void BpeEncoder::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    const std::int32_t token = byte_tokens_[static_cast<unsigned char>(word[0])];
    if (token >= 0) out.push_back(token);
    return;
  }
  if (ignore_merges_) {
    const std::int32_t whole = whole_words_.find(bytes_to_byte_level_text(word));
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }

  const auto n = static_cast<std::int32_t>(word.size());
  std::vector<Symbol> symbols(n);
  for (std::int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_tokens_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1,
                  true};
  }

  std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
  auto try_add = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    auto it = merges_.find(key(symbols[left].token, symbols[right].token));
    if (it == merges_.end()) return;
    queue.push({it->second.rank, left, right, symbols[left].token, symbols[right].token,
                it->second.result});
  };
  for (std::int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (!left.alive || !right.alive || left.next != c.right || left.token != c.left_token ||
        right.token != c.right_token) {
      continue;
    }
    left.token = c.result;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    try_add(left.prev, c.left);
    try_add(c.left, left.next);
  }

  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) {
    if (symbols[i].token >= 0) out.push_back(symbols[i].token);  // -1: a byte without a token
  }
}

}  // namespace lockstep::tokenizer
