#include "tokenizer/special_token_splitter.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace lockstep::tokenizer {

SpecialTokenSplitter::SpecialTokenSplitter(const Vocabulary& v) {
  nodes_.emplace_back();
  std::vector<std::int32_t> candidates;
  for (std::int32_t id = 0; id < v.size(); ++id) {
    const TokenType type = v.type_of(id);
    const bool special = type == TokenType::Control || type == TokenType::Unknown ||
                         type == TokenType::UserDefined;
    if (special && !v.tokens[id].empty()) candidates.push_back(id);
  }
  std::stable_sort(candidates.begin(), candidates.end(), [&](std::int32_t a, std::int32_t b) {
    return v.tokens[a].size() > v.tokens[b].size();
  });
  for (std::uint32_t rank = 0; rank < candidates.size(); ++rank) {
    const std::int32_t id = candidates[rank];
    const std::string& text = v.tokens[id];
    std::int32_t node = 0;
    for (char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      const std::uint64_t key = (static_cast<std::uint64_t>(node) << 8) | byte;
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        it = edges_.emplace(key, static_cast<std::int32_t>(nodes_.size())).first;
        nodes_.emplace_back();
      }
      node = it->second;
    }
    first_byte_[static_cast<unsigned char>(text[0])] = true;
    nodes_[node] = {id, v.type_of(id) == TokenType::UserDefined, rank};
    length_of_rank_.push_back(static_cast<std::uint32_t>(text.size()));
  }
}

std::int32_t SpecialTokenSplitter::child(std::int32_t node, unsigned char byte) const {
  auto it = edges_.find((static_cast<std::uint64_t>(node) << 8) | byte);
  return it == edges_.end() ? -1 : it->second;
}

std::vector<Fragment> SpecialTokenSplitter::split(std::string_view text, bool parse_special,
                                                  std::span<const TextSpan> literal) const {
  for (std::size_t k = 0; k < literal.size(); ++k) {
    const TextSpan& span = literal[k];
    if (span.begin > text.size() || span.size > text.size() - span.begin ||
        (k > 0 && span.begin < literal[k - 1].end())) {
      fail("literal span {} [{}, +{}) is out of order or outside the text of {} bytes", k,
           span.begin, span.size, text.size());
    }
  }
  struct Occurrence {
    std::uint32_t rank;
    std::size_t pos;
    std::int32_t token;
  };
  std::vector<Occurrence> found;
  if (!length_of_rank_.empty()) {
    std::size_t next_span = 0;  // the first non-empty literal span that ends after pos
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
      if (!first_byte_[static_cast<unsigned char>(text[pos])]) continue;
      while (next_span < literal.size() &&
             (literal[next_span].end() <= pos || literal[next_span].size == 0)) {
        ++next_span;
      }
      // An occurrence [pos, i] overlaps a literal span iff i reaches this byte.
      const std::size_t literal_from = next_span < literal.size()
                                           ? std::max(literal[next_span].begin, pos)
                                           : text.size();
      std::int32_t node = 0;
      for (std::size_t i = pos; i < text.size(); ++i) {
        node = child(node, static_cast<unsigned char>(text[i]));
        if (node < 0) break;
        const Node& n = nodes_[node];
        if (n.token >= 0 && (n.always || (parse_special && i < literal_from))) {
          found.push_back({n.rank, pos, n.token});
        }
      }
    }
  }

  std::vector<Fragment> out;
  if (found.empty()) {
    if (!text.empty()) out.push_back({text, -1});
    return out;
  }
  std::sort(found.begin(), found.end(), [](const Occurrence& a, const Occurrence& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
  });

  std::map<std::size_t, std::pair<std::size_t, std::int32_t>> claimed;  // start -> (end, token)
  auto overlaps = [&claimed](std::size_t begin, std::size_t end) {
    auto it = claimed.lower_bound(begin);
    if (it != claimed.end() && it->first < end) return true;
    return it != claimed.begin() && std::prev(it)->second.first > begin;
  };
  std::size_t i = 0;
  while (i < found.size()) {
    const std::uint32_t rank = found[i].rank;
    const std::size_t length = length_of_rank_[rank];
    std::size_t next_free = 0;  // this candidate's search resumes after its last match
    for (; i < found.size() && found[i].rank == rank; ++i) {
      const std::size_t begin = found[i].pos;
      if (begin < next_free || overlaps(begin, begin + length)) continue;
      claimed.emplace(begin, std::make_pair(begin + length, found[i].token));
      next_free = begin + length;
    }
  }

  std::size_t at = 0;
  for (const auto& [begin, end_token] : claimed) {
    if (begin > at) out.push_back({text.substr(at, begin - at), -1});
    out.push_back({text.substr(begin, end_token.first - begin), end_token.second});
    at = end_token.first;
  }
  if (at < text.size()) out.push_back({text.substr(at), -1});
  return out;
}

}  // namespace lockstep::tokenizer
