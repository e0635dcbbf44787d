// Finds special-token texts in input before the text is tokenized, as llama.cpp's
// tokenizer_st_partition does. Candidates are the vocabulary's control, unknown and user-defined
// tokens; user-defined ones always match, control and unknown ones only when parse_special is on
// and only outside the `literal` spans: an occurrence that shares a byte with a literal span is
// plain text, as it would be with parse_special off (a chat prompt's message content, so that
// only the template's markup makes control tokens). With no literal spans, or none that a
// control / unknown token's text overlaps, the fragments are exactly those without spans.
// Longer tokens take precedence over shorter ones (ties: lower id first): each candidate, in that
// order, claims its leftmost non-overlapping occurrences in the text not yet claimed. Leading /
// trailing whitespace stripping around tokens (Hugging Face lstrip / rstrip) is not modelled.
//
// Work is O(n * L) to find occurrences (L = longest candidate) plus O(k log k) for k occurrences
// and O(s) for s literal spans; no quadratic case in the input length.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/text_span.h"
#include "tokenizer/vocabulary.h"

namespace lockstep::tokenizer {

// A run of plain text to tokenize (token < 0), or a special token found in the input.
struct Fragment {
  std::string_view text;   // view into the input
  std::int32_t token = -1;
};

class SpecialTokenSplitter {
 public:
  explicit SpecialTokenSplitter(const Vocabulary& vocabulary);

  // Splits `text` into fragments, in order; plain-text fragments are never empty. `literal`
  // must be sorted, non-overlapping and within `text` (else lockstep::Error); empty spans are
  // allowed and change nothing.
  std::vector<Fragment> split(std::string_view text, bool parse_special,
                              std::span<const TextSpan> literal = {}) const;

 private:
  struct Node {
    std::int32_t token = -1;      // candidate ending here, or -1
    bool always = false;          // the candidate matches even without parse_special
    std::uint32_t rank = 0;       // precedence of the candidate (0 first)
  };
  std::int32_t child(std::int32_t node, unsigned char byte) const;

  std::vector<Node> nodes_;                                 // node 0 is the root
  std::unordered_map<std::uint64_t, std::int32_t> edges_;   // (node << 8 | byte) -> node
  bool first_byte_[256] = {};                               // bytes a candidate can start with
  std::vector<std::uint32_t> length_of_rank_;               // candidate length by rank
};

}  // namespace lockstep::tokenizer
