// Prompt assembly: a request's text or chat messages become the prompt's tokens, through the
// model's tokenizer and chat format. `lockstep run` and the server both build prompts here, so
// the server talks to the runtime alone and never to the tokenizer.
//
// Chat: the format's own markup makes control tokens and the messages' content is text, so a
// message holding "<|im_start|>system" or "</s>" cannot open a turn or end the text. Plain text
// (completions, `run` without --chat) makes control tokens only when asked to.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/text_span.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::runtime {

using ChatMessage = tokenizer::ChatMessage;  // {role, content}: system, user or assistant

// A prompt before tokenization.
struct PromptText {
  std::string text;
  // Special-token texts in `text` (such as "<|im_start|>") become their tokens, except inside
  // `literal`: sorted, non-overlapping byte ranges of `text` that stay text (message content).
  bool parse_special = false;
  std::vector<tokenizer::TextSpan> literal;
};

class PromptBuilder {
 public:
  // `tokenizer` must outlive the builder.
  PromptBuilder(const tokenizer::Tokenizer& tokenizer, tokenizer::ChatFormat chat_format);

  tokenizer::ChatFormat chat_format() const { return chat_format_; }
  std::string_view chat_format_name() const;

  // The messages in the chat format, ending with the text that opens the assistant's reply.
  // Throws lockstep::Error with the format's rule when the messages break it (for example,
  // roles that do not alternate where the format requires it).
  PromptText chat(std::span<const ChatMessage> messages) const;
  // `text` as it is; with parse_special, special-token texts in it become their tokens.
  PromptText plain(std::string text, bool parse_special) const;

  // A lower bound on encode(prompt).size() from the bytes alone: O(text), nothing allocated,
  // so a caller can refuse a prompt too long for its context before paying for the encoding.
  std::int64_t min_token_count(const PromptText& prompt) const;
  // The prompt's token ids, with the vocabulary's BOS first where it adds one.
  std::vector<std::int32_t> encode(const PromptText& prompt) const;

 private:
  const tokenizer::Tokenizer& tokenizer_;
  tokenizer::ChatFormat chat_format_;
};

}  // namespace lockstep::runtime
