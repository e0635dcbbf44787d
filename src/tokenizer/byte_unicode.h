// GPT-2's reversible byte <-> Unicode mapping ("bytes_to_unicode"), used by byte-level BPE
// vocabularies: every byte is stored in token texts as one printable character. Bytes 0x21-0x7E,
// 0xA1-0xAC and 0xAE-0xFF map to the code point of the same value; the other 68 bytes map, in
// increasing order, to U+0100, U+0101, ... (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lockstep::tokenizer {

// The character standing for `byte`, as a code point and as UTF-8.
std::uint32_t byte_to_unicode_code_point(std::uint8_t byte);
const std::string& byte_to_unicode_utf8(std::uint8_t byte);

// The byte a code point stands for, or nullopt when the code point is not in the mapping.
std::optional<std::uint8_t> unicode_to_byte(std::uint32_t code_point);

// Maps every byte of `raw` to its character (the text a byte-level vocabulary stores).
std::string bytes_to_byte_level_text(std::string_view raw);

// The inverse: maps every character of a byte-level token text back to its byte. Characters
// outside the mapping (and invalid UTF-8) are copied through unchanged.
std::string byte_level_text_to_bytes(std::string_view text);

}  // namespace lockstep::tokenizer
