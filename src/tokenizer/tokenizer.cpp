#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>

#include "core/error.h"
#include "tokenizer/bpe_encoder.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/pre_tokenizer_catalog.h"
#include "tokenizer/regex_splitter.h"
#include "tokenizer/special_token_splitter.h"
#include "tokenizer/spm_encoder.h"
#include "tokenizer/token_index.h"
#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {
namespace {

const std::string kSpaceMark = "\xE2\x96\x81";  // '▁' U+2581

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  for (std::size_t hit = text.find(from); hit != std::string_view::npos;
       hit = text.find(from, at)) {
    out.append(text.substr(at, hit - at));
    out.append(to);
    at = hit + from.size();
  }
  out.append(text.substr(at));
  return out;
}

// The byte a "<0xXX>" token stands for, if its text has that form.
std::optional<std::uint8_t> parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return std::nullopt;
  unsigned value = 0;
  for (char c : text.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') value |= static_cast<unsigned>(c - '0');
    else if (c >= 'A' && c <= 'F') value |= static_cast<unsigned>(c - 'A' + 10);
    else if (c >= 'a' && c <= 'f') value |= static_cast<unsigned>(c - 'a' + 10);
    else return std::nullopt;
  }
  return static_cast<std::uint8_t>(value);
}

}  // namespace

struct Tokenizer::Impl {
  Vocabulary vocab;
  TokenIndex all_tokens;
  TokenIndex mergeable;
  std::array<std::int32_t, 256> byte_tokens{};
  std::vector<std::string> pieces;  // [n_vocab] token_to_piece without render_special
  std::vector<std::int32_t> end_of_generation;  // sorted
  std::unique_ptr<SpecialTokenSplitter> specials;
  std::unique_ptr<SpmEncoder> spm;
  std::unique_ptr<RegexSplitter> splitter;
  std::unique_ptr<BpeEncoder> bpe;
  std::size_t max_token_bytes = 1;  // see tokenizer.h
  // Whether every byte of input ends up in some token (min_token_count); when not, the bytes
  // that always do.
  bool every_byte_tokenized = false;
  std::array<bool, 256> always_tokenized{};

  explicit Impl(Vocabulary v) : vocab(std::move(v)) {
    validate_vocabulary(vocab);
    all_tokens = TokenIndex(vocab, [](TokenType) { return true; });
    mergeable = TokenIndex(vocab, is_mergeable_type);
    for (unsigned b = 0; b < 256; ++b) {
      const auto byte = static_cast<std::uint8_t>(b);
      const std::int32_t id = all_tokens.find(vocab.kind == VocabKind::SentencePiece
                                                  ? byte_token_text(byte)
                                                  : byte_to_unicode_utf8(byte));
      byte_tokens[b] = id >= 0 ? id : vocab.unk_id.value_or(-1);
    }
    specials = std::make_unique<SpecialTokenSplitter>(vocab);
    if (vocab.kind == VocabKind::SentencePiece) {
      spm = std::make_unique<SpmEncoder>(vocab, mergeable, byte_tokens);
    } else {
      const std::vector<std::string>& regexes =
          vocab.split_regexes.empty() ? find_pre_tokenizer(vocab.pre_tokenizer)->regexes
                                      : vocab.split_regexes;
      splitter = std::make_unique<RegexSplitter>(regexes, label());
      bpe = std::make_unique<BpeEncoder>(vocab, all_tokens, mergeable, byte_tokens);
    }
    pieces.reserve(vocab.tokens.size());
    for (std::int32_t id = 0; id < vocab.size(); ++id) pieces.push_back(make_piece(id));
    for (const auto& id : {vocab.eos_id, vocab.eot_id, vocab.eom_id}) {
      if (id) end_of_generation.push_back(*id);
    }
    end_of_generation.insert(end_of_generation.end(), vocab.extra_end_of_generation_ids.begin(),
                             vocab.extra_end_of_generation_ids.end());
    std::sort(end_of_generation.begin(), end_of_generation.end());
    for (std::int32_t id = 0; id < vocab.size(); ++id) {
      max_token_bytes = std::max(max_token_bytes, input_bytes_of(id));
    }
    find_always_tokenized();
  }

  // The most bytes of input text token `id` can stand for (see max_token_bytes in tokenizer.h).
  std::size_t input_bytes_of(std::int32_t id) const {
    switch (vocab.type_of(id)) {
      case TokenType::Control:
      case TokenType::Unknown:
      case TokenType::UserDefined:
        return vocab.tokens[id].size();  // the splitter matches the text as written
      case TokenType::Byte:
        return pieces[id].size();
      case TokenType::Normal:
        return vocab.kind == VocabKind::SentencePiece ? vocab.tokens[id].size() : pieces[id].size();
      default:  // unused, undefined: never produced from text; counted as written to be safe
        return vocab.tokens[id].size();
    }
  }

  // A byte with no token (and no unknown token to stand in) is dropped by the encoders. When no
  // byte is, every byte of input is in some token. Otherwise only ASCII bytes are counted:
  // one whose character (SentencePiece: '▁' for ' ') is a token or has a byte token is always
  // in some token, while other bytes may be dropped or, in byte-level BPE, be invalid UTF-8
  // that is replaced by U+FFFD, whose own bytes may be dropped.
  void find_always_tokenized() {
    every_byte_tokenized =
        std::all_of(byte_tokens.begin(), byte_tokens.end(), [](std::int32_t t) { return t >= 0; });
    if (every_byte_tokenized) return;
    for (unsigned b = 0; b < 0x80; ++b) {
      if (vocab.kind == VocabKind::ByteLevelBpe) {
        always_tokenized[b] = byte_tokens[b] >= 0;
        continue;
      }
      const std::string symbol = b == ' ' ? kSpaceMark : std::string(1, static_cast<char>(b));
      bool kept = mergeable.find(symbol) >= 0;
      for (char c : symbol) kept = kept || byte_tokens[static_cast<unsigned char>(c)] >= 0;
      always_tokenized[b] = kept;
    }
  }

  // The piece of `id` when special tokens are not rendered.
  std::string make_piece(std::int32_t id) const {
    const std::string& text = vocab.tokens[id];
    switch (vocab.type_of(id)) {
      case TokenType::Normal:
        return vocab.kind == VocabKind::SentencePiece ? replace_all(text, kSpaceMark, " ")
                                                      : byte_level_text_to_bytes(text);
      case TokenType::UserDefined:
        return text;
      case TokenType::Byte:
        if (auto byte = parse_byte_token(text)) return std::string(1, static_cast<char>(*byte));
        return vocab.kind == VocabKind::SentencePiece ? text : byte_level_text_to_bytes(text);
      default:  // control, unknown, unused, undefined
        return {};
    }
  }

  std::string label() const { return vocab.source.empty() ? "vocabulary" : vocab.source; }

  void check_id(std::int32_t id) const {
    if (id < 0 || id >= vocab.size()) {
      fail("{}: token id {} is out of range (the vocabulary has {} tokens)", label(), id,
           vocab.size());
    }
  }

  const std::string& piece(std::int32_t id, bool render_special) const {
    check_id(id);
    if (render_special && pieces[id].empty()) return vocab.tokens[id];
    return pieces[id];
  }

  void encode_plain(std::string_view text, std::vector<std::int32_t>& out) const {
    if (vocab.kind == VocabKind::SentencePiece) {
      std::string escaped;
      escaped.reserve(text.size() + 8);
      if (vocab.add_space_prefix) escaped += kSpaceMark;
      escaped += replace_all(text, " ", kSpaceMark);
      spm->encode(escaped, out);
      return;
    }
    std::string clean = is_valid_utf8(text) ? std::string(text) : replace_invalid_utf8(text);
    if (vocab.add_space_prefix && clean[0] != ' ') clean.insert(clean.begin(), ' ');
    for (std::string_view word : splitter->split(clean)) bpe->encode_word(word, out);
  }
};

Tokenizer::Tokenizer(Vocabulary vocabulary)
    : impl_(std::make_unique<Impl>(std::move(vocabulary))) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                            bool parse_special,
                                            std::span<const TextSpan> literal) const {
  const Vocabulary& v = impl_->vocab;
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && v.add_bos) out.push_back(*v.bos_id);
  for (const Fragment& fragment : impl_->specials->split(text, parse_special, literal)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
    } else {
      impl_->encode_plain(fragment.text, out);
    }
  }
  if (add_special && v.add_eos) out.push_back(*v.eos_id);
  return out;
}

std::int64_t Tokenizer::min_token_count(std::string_view text, bool add_special) const {
  std::size_t bytes = 0;  // of input that some token must stand for
  if (impl_->every_byte_tokenized) {
    bytes = text.size();
  } else {
    for (char c : text) bytes += impl_->always_tokenized[static_cast<unsigned char>(c)];
  }
  const std::size_t per_token = impl_->max_token_bytes;
  auto count = static_cast<std::int64_t>((bytes + per_token - 1) / per_token);
  if (add_special) count += int{impl_->vocab.add_bos} + int{impl_->vocab.add_eos};
  return count;
}

std::size_t Tokenizer::max_token_bytes() const { return impl_->max_token_bytes; }

std::string Tokenizer::token_to_piece(std::int32_t id, bool render_special) const {
  return impl_->piece(id, render_special);
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool render_special) const {
  std::string out;
  bool strip_space = impl_->vocab.kind == VocabKind::SentencePiece && impl_->vocab.add_space_prefix;
  for (std::int32_t id : ids) {
    const std::string& piece = impl_->piece(id, render_special);
    if (strip_space && !piece.empty()) {
      out.append(piece, piece[0] == ' ' ? 1 : 0);
      strip_space = false;
    } else {
      out += piece;
    }
  }
  return out;
}

std::int32_t Tokenizer::n_vocab() const { return impl_->vocab.size(); }
VocabKind Tokenizer::kind() const { return impl_->vocab.kind; }
std::optional<std::int32_t> Tokenizer::bos_id() const { return impl_->vocab.bos_id; }
std::optional<std::int32_t> Tokenizer::eos_id() const { return impl_->vocab.eos_id; }

bool Tokenizer::is_end_of_generation(std::int32_t id) const {
  return std::binary_search(impl_->end_of_generation.begin(), impl_->end_of_generation.end(), id);
}

const std::string& Tokenizer::token_text(std::int32_t id) const {
  impl_->check_id(id);
  return impl_->vocab.tokens[id];
}

TokenType Tokenizer::token_type(std::int32_t id) const {
  impl_->check_id(id);
  return impl_->vocab.type_of(id);
}

const Vocabulary& Tokenizer::vocabulary() const { return impl_->vocab; }

}  // namespace lockstep::tokenizer
