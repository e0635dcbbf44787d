#include "tokenizer/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {
namespace {

// Per pcre2_match call: generous for the tokenizers' own patterns (linear work per piece), small
// enough that a catastrophic pattern from a hostile tokenizer.json fails in well under a second.
constexpr std::uint32_t kMatchLimit = 20'000'000;
constexpr std::uint32_t kHeapLimitKiB = 64 * 1024;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "unknown PCRE2 error";
  return reinterpret_cast<const char*>(buffer);
}

struct Piece {
  std::size_t start;
  std::size_t length;
};

}  // namespace

struct RegexSplitter::Compiled {
  std::string pattern;
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  ~Compiled() {
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

RegexSplitter::RegexSplitter(const std::vector<std::string>& patterns, const std::string& source)
    : source_(source) {
  if (patterns.empty()) fail("{}: the pre-tokenizer has no split regex", source);
  for (const std::string& pattern : patterns) {
    auto compiled = std::make_unique<Compiled>();
    compiled->pattern = pattern;
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
    if (!compiled->code) {
      fail("{}: split regex '{}' does not compile (at offset {}: {})", source, pattern,
           error_offset, pcre2_message(error));
    }
    // JIT is an optimisation only: without it (or when it is refused) the interpreter runs.
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
    compiled->context = pcre2_match_context_create(nullptr);
    if (!compiled->context) throw std::bad_alloc();
    pcre2_set_match_limit(compiled->context, kMatchLimit);
    pcre2_set_heap_limit(compiled->context, kHeapLimitKiB);
    regexes_.push_back(std::move(compiled));
  }
}

RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

std::vector<std::string_view> RegexSplitter::split(std::string_view text) const {
  std::vector<Piece> pieces;
  if (!text.empty()) pieces.push_back({0, text.size()});
  std::vector<Piece> next;

  for (const auto& regex : regexes_) {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
        pcre2_match_data_create_from_pattern(regex->code, nullptr), &pcre2_match_data_free);
    if (!match) throw std::bad_alloc();
    next.clear();
    for (const Piece& piece : pieces) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.start);
      std::size_t emitted = 0;  // end of the last piece emitted, relative to the piece
      std::size_t offset = 0;   // where the next search starts
      while (offset < piece.length) {
        int rc = pcre2_match(regex->code, subject, piece.length, offset, PCRE2_NO_UTF_CHECK,
                             match.get(), regex->context);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          // Deep backtracking overflowed the JIT's machine stack: retry on the interpreter,
          // which uses the (limited) heap instead.
          rc = pcre2_match(regex->code, subject, piece.length, offset,
                           PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match.get(), regex->context);
        }
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          fail("{}: split regex '{}' gave up on the input ({})", source_, regex->pattern,
               pcre2_message(rc));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
        const std::size_t begin = ovector[0];
        const std::size_t end = ovector[1];
        if (end <= begin) {
          // Empty match: it splits nothing; move on by one character.
          if (begin >= piece.length) break;
          offset = begin + decode_utf8_char(text.substr(piece.start, piece.length), begin).length;
          continue;
        }
        if (begin > emitted) next.push_back({piece.start + emitted, begin - emitted});
        next.push_back({piece.start + begin, end - begin});
        emitted = end;
        offset = end;
      }
      if (emitted < piece.length) next.push_back({piece.start + emitted, piece.length - emitted});
    }
    pieces.swap(next);
  }

  std::vector<std::string_view> out;
  out.reserve(pieces.size());
  for (const Piece& p : pieces) out.push_back(text.substr(p.start, p.length));
  return out;
}

}  // namespace lockstep::tokenizer
