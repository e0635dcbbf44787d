#include "tokenizer/byte_unicode.h"

#include <array>

#include "tokenizer/utf8.h"

namespace lockstep::tokenizer {
namespace {

bool maps_to_itself(unsigned byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

struct ByteTable {
  std::array<std::uint32_t, 256> code_point{};
  std::array<std::string, 256> utf8;
  std::array<int, 256 + 68> byte_of{};  // code point -> byte, -1 when not in the mapping
  ByteTable() {
    byte_of.fill(-1);
    std::uint32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      code_point[b] = maps_to_itself(b) ? b : next++;
      append_utf8(code_point[b], utf8[b]);
      byte_of[code_point[b]] = static_cast<int>(b);
    }
  }
};

const ByteTable& table() {
  static const ByteTable instance;
  return instance;
}

}  // namespace

std::uint32_t byte_to_unicode_code_point(std::uint8_t byte) { return table().code_point[byte]; }

const std::string& byte_to_unicode_utf8(std::uint8_t byte) { return table().utf8[byte]; }

std::optional<std::uint8_t> unicode_to_byte(std::uint32_t cp) {
  const auto& byte_of = table().byte_of;
  if (cp >= byte_of.size() || byte_of[cp] < 0) return std::nullopt;
  return static_cast<std::uint8_t>(byte_of[cp]);
}

std::string bytes_to_byte_level_text(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) out += byte_to_unicode_utf8(static_cast<std::uint8_t>(c));
  return out;
}

std::string byte_level_text_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const Utf8Char c = decode_utf8_char(text, i);
    const auto byte = c.valid ? unicode_to_byte(c.code_point) : std::nullopt;
    if (byte) {
      out.push_back(static_cast<char>(*byte));
    } else {
      out.append(text.substr(i, c.length));
    }
    i += c.length;
  }
  return out;
}

}  // namespace lockstep::tokenizer
