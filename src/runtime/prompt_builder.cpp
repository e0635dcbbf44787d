#include "runtime/prompt_builder.h"

#include <utility>

namespace lockstep::runtime {

PromptBuilder::PromptBuilder(const tokenizer::Tokenizer& tokenizer, tokenizer::ChatFormat chat_format)
    : tokenizer_(tokenizer), chat_format_(chat_format) {}

std::string_view PromptBuilder::chat_format_name() const {
  return tokenizer::chat_format_name(chat_format_);
}

PromptText PromptBuilder::chat(std::span<const ChatMessage> messages) const {
  tokenizer::ChatPrompt rendered =
      tokenizer::format_chat(chat_format_, messages, /*add_generation_prompt=*/true);
  return PromptText{std::move(rendered.text), /*parse_special=*/true, std::move(rendered.content)};
}

PromptText PromptBuilder::plain(std::string text, bool parse_special) const {
  return PromptText{std::move(text), parse_special, {}};
}

std::int64_t PromptBuilder::min_token_count(const PromptText& prompt) const {
  return tokenizer_.min_token_count(prompt.text, /*add_special=*/true);
}

std::vector<std::int32_t> PromptBuilder::encode(const PromptText& prompt) const {
  return tokenizer_.encode(prompt.text, /*add_special=*/true, prompt.parse_special, prompt.literal);
}

}  // namespace lockstep::runtime
