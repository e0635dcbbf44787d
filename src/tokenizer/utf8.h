// UTF-8 helpers for the tokenizers. Validation is strict (RFC 3629): no overlong forms, no
// surrogates, nothing above U+10FFFF. Everything works on raw bytes and never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lockstep::tokenizer {

// One decoded code point: `length` bytes starting at the given offset. `valid` is false when the
// bytes there do not start a well-formed sequence; then `length` is 1 and `code_point` is the byte.
struct Utf8Char {
  std::uint32_t code_point = 0;
  std::size_t length = 1;
  bool valid = false;
};

// Decodes the character starting at `offset` (offset < text.size()).
Utf8Char decode_utf8_char(std::string_view text, std::size_t offset);

// Appends the UTF-8 encoding of `code_point` (must be a Unicode scalar value) to `out`.
void append_utf8(std::uint32_t code_point, std::string& out);

// True when the whole of `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

// Returns `text` with every byte that does not start a well-formed sequence replaced by U+FFFD
// (one replacement per bad byte, as llama.cpp's unicode_cpts_from_utf8 does).
std::string replace_invalid_utf8(std::string_view text);

// Length of the longest prefix of `text` that does not end inside an incomplete (but so far
// well-formed) multi-byte character. Bytes that can never become valid are not held back.
// Streaming decoders emit this prefix and keep the rest until more bytes arrive.
std::size_t utf8_complete_prefix_length(std::string_view text);

}  // namespace lockstep::tokenizer
