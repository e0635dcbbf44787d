#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {
namespace {

constexpr std::uint32_t kReplacementChar = 0xFFFD;

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Number of bytes a sequence starting with `lead` has, or 0 when `lead` cannot start one.
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Whether `second` may follow `lead` (this is where overlongs, surrogates and values above
// U+10FFFF are excluded).
bool second_byte_ok(unsigned char lead, unsigned char second) {
  switch (lead) {
    case 0xE0: return second >= 0xA0 && second <= 0xBF;
    case 0xED: return second >= 0x80 && second <= 0x9F;
    case 0xF0: return second >= 0x90 && second <= 0xBF;
    case 0xF4: return second >= 0x80 && second <= 0x8F;
    default: return is_continuation(second);
  }
}

}  // namespace

Utf8Char decode_utf8_char(std::string_view text, std::size_t offset) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  Utf8Char invalid{lead, 1, false};
  const std::size_t length = sequence_length(lead);
  if (length == 0) return invalid;
  if (length == 1) return {lead, 1, true};
  if (text.size() - offset < length) return invalid;
  const auto second = static_cast<unsigned char>(text[offset + 1]);
  if (!second_byte_ok(lead, second)) return invalid;
  std::uint32_t cp = lead & (0xFF >> (length + 1));
  cp = (cp << 6) | (second & 0x3F);
  for (std::size_t i = 2; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[offset + i]);
    if (!is_continuation(byte)) return invalid;
    cp = (cp << 6) | (byte & 0x3F);
  }
  return {cp, length, true};
}

void append_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const Utf8Char c = decode_utf8_char(text, i);
    if (!c.valid) return false;
    i += c.length;
  }
  return true;
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const Utf8Char c = decode_utf8_char(text, i);
    if (c.valid) {
      out.append(text.substr(i, c.length));
    } else {
      append_utf8(kReplacementChar, out);
    }
    i += c.length;
  }
  return out;
}

std::size_t utf8_complete_prefix_length(std::string_view text) {
  // An incomplete character is at most 3 bytes long: look back that far for its lead byte.
  const std::size_t n = text.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const std::size_t start = n - back;
    const auto byte = static_cast<unsigned char>(text[start]);
    if (is_continuation(byte)) continue;
    const std::size_t length = sequence_length(byte);
    if (length <= back) return n;  // ASCII, an invalid lead, or a sequence that is complete
    // The tail [start, n) is shorter than its sequence: hold it back if it is a valid prefix.
    if (back >= 2 && !second_byte_ok(byte, static_cast<unsigned char>(text[start + 1]))) return n;
    for (std::size_t i = start + 2; i < n; ++i) {
      if (!is_continuation(static_cast<unsigned char>(text[i]))) return n;
    }
    return start;
  }
  return n;
}

}  // namespace lockstep::tokenizer
