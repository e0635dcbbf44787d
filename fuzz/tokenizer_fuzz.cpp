// libFuzzer target for the tokenizers. Each input is used twice:
//  (a) as text, tokenized by a small SentencePiece and a small byte-level BPE vocabulary built
//      in code (no file I/O), with parse_special on and off; decode must give valid UTF-8 input
//      back exactly on the BPE vocabulary (and on the SentencePiece one when the text has no
//      special-token text or '▁'), and streaming decode must agree with decode; with the whole
//      text a literal span (chat content), parse_special on must give the tokens of
//      parse_special off; min_token_count is never above a count;
//  (b) as a tokenizer.json (the bytes after the first 0x00, if any, as tokenizer_config.json),
//      through vocabulary_from_tokenizer_json_text; a vocabulary that loads is then used to
//      encode and decode a short text and the input itself, and min_token_count is never above
//      the count.
// lockstep::Error is an accepted outcome everywhere; any other exception, a crash or a sanitizer
// report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/streaming_decoder.h"
#include "tokenizer/synthetic_vocabulary.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using lockstep::tokenizer::SyntheticToken;
using lockstep::tokenizer::TextSpan;
using lockstep::tokenizer::Tokenizer;
using lockstep::tokenizer::TokenType;

void check(bool condition) {
  if (!condition) std::abort();
}

const Tokenizer& sentencepiece() {
  static const Tokenizer tokenizer(lockstep::tokenizer::make_sentencepiece_vocabulary(
      {{"▁", -1.0f}, {"a", -2.0f}, {"b", -2.0f}, {"▁a", -1.5f}, {"ab", -1.2f}, {"▁ab", -0.5f},
       {"▁▁", -3.0f}, {"é", -2.0f}, {"\n", -2.0f}},
      {{"<|im_start|>", TokenType::Control}, {"<tool>", TokenType::UserDefined}}));
  return tokenizer;
}

const Tokenizer& byte_level() {
  static const Tokenizer tokenizer(lockstep::tokenizer::make_byte_level_vocabulary(
      {{"a", "b"}, {" ", "a"}, {" a", "b"}, {"\xC3", "\xA9"}, {"1", "2"}, {"12", "3"}, {" ", " "}},
      "llama3", {{"<|im_start|>", TokenType::Control}, {"<tool>", TokenType::UserDefined}}));
  return tokenizer;
}

std::string stream_decode(const Tokenizer& tokenizer, const std::vector<std::int32_t>& ids,
                          bool render_special) {
  lockstep::tokenizer::StreamingDecoder decoder(tokenizer, render_special, true);
  std::string out;
  for (std::int32_t id : ids) out += decoder.push(id);
  return out + decoder.finish();
}

void fuzz_text(std::string_view text) {
  const bool valid = lockstep::tokenizer::is_valid_utf8(text);
  const bool plain = text.find("<tool>") == std::string_view::npos &&
                     text.find("<|im_start|>") == std::string_view::npos &&
                     text.find("<s>") == std::string_view::npos &&
                     text.find("</s>") == std::string_view::npos &&
                     text.find("<unk>") == std::string_view::npos &&
                     text.find("\xE2\x96\x81") == std::string_view::npos;
  for (bool parse_special : {false, true}) {
    for (bool add_special : {false, true}) {
      const auto spm_ids = sentencepiece().encode(text, add_special, parse_special);
      const std::string spm_text = sentencepiece().decode(spm_ids);
      // SentencePiece passes every byte through (byte fallback), valid UTF-8 or not.
      if (plain) check(spm_text == text);
      check(stream_decode(sentencepiece(), spm_ids, false) == spm_text);

      const auto bpe_ids = byte_level().encode(text, add_special, parse_special);
      const std::string bpe_text = byte_level().decode(bpe_ids, /*render_special=*/parse_special);
      if (valid) check(bpe_text == text);
      check(stream_decode(byte_level(), bpe_ids, parse_special) == bpe_text);

      const std::vector<TextSpan> whole = {{0, text.size()}};
      for (const Tokenizer* t : {&sentencepiece(), &byte_level()}) {
        const auto ids = t->encode(text, add_special, parse_special);
        check(t->min_token_count(text, add_special) <= static_cast<std::int64_t>(ids.size()));
        if (!parse_special) check(t->encode(text, add_special, true, whole) == ids);
      }
    }
  }
}

void fuzz_tokenizer_json(std::string_view input) {
  const std::size_t split = input.find('\0');
  const std::string_view json = input.substr(0, split);
  const std::string_view config =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
  try {
    const Tokenizer tokenizer(
        lockstep::tokenizer::vocabulary_from_tokenizer_json_text(json, config, "fuzz"));
    const std::string_view sample = "Hello, world! 123 <s> é";
    for (std::string_view text : {sample, input.substr(0, 256)}) {
      const auto ids = tokenizer.encode(text, true, true);
      check(tokenizer.min_token_count(text, true) <= static_cast<std::int64_t>(ids.size()));
      (void)tokenizer.decode(ids, true);
      (void)tokenizer.decode(tokenizer.encode(text, false, false));
    }
  } catch (const lockstep::Error&) {
    // Rejected with a message: fine.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_text(input);
  fuzz_tokenizer_json(input);
  return 0;
}
