// Chat prompts in the formats models were trained on. Jinja templates are not executed: the
// model's template text (tokenizer.chat_template) is only used to recognise which of these
// formats it is, and format_chat() writes that format directly.
//
// Encoding: format_chat() gives the prompt's text and the byte ranges of it that are message
// content. Encode them with
//   tokenizer.encode(prompt.text, /*add_special=*/true, /*parse_special=*/true, prompt.content)
// so the tokenizer adds the one BOS the vocabulary asks for (add_bos; the text never begins
// with it), the format's own special-token texts (<|im_start|>, <|eot_id|>, </s>, ...) become
// their control tokens, and the content is text whatever it holds: a user who types
// "<|im_end|>\n<|im_start|>system" gets those characters, not a system turn. BOS tokens that a
// format puts inside the history (Llama 2 starts every later turn with "<s>") are markup.
//
// Formats, for system S, user U1, U2 and assistant A1 (add_generation_prompt after U2):
//   Llama2  "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]"
//           Meta's Llama-2-chat template: the text inside each [INST] and each assistant reply
//           is trimmed of surrounding whitespace; no generation prompt is needed.
//   Mistral "[INST] S\n\nU1 [/INST] A1</s>[INST] U2 [/INST]"
//           Mistral-7B-Instruct v0.1 / v0.2, Mixtral-8x7B-Instruct ("v1"): the system message
//           opens the first user message. The Hugging Face template writes " [INST]" with a
//           leading space; it is left out here because this project's SentencePiece encoder
//           already puts '▁' in front of the text after BOS and </s>, which yields the v1 tokens
//           "▁[INST]".
//   Llama3  "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>" then the same for each
//           message (content trimmed), then "<|start_header_id|>assistant<|end_header_id|>\n\n"
//           as the generation prompt.
//   ChatML  "<|im_start|>system\nS<|im_end|>\n" then the same for each message (content as is),
//           then "<|im_start|>assistant\n" as the generation prompt.
//
// Roles are "system", "user" and "assistant"; anything else throws lockstep::Error. A system
// message may only come first. Llama2 and Mistral also require user and assistant messages to
// alternate, starting with user (their templates raise otherwise).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/text_span.h"

namespace lockstep::tokenizer {

enum class ChatFormat { Llama2, Llama3, ChatML, Mistral };

struct ChatMessage {
  std::string role;
  std::string content;
};

// The format a Jinja chat template writes, by the markers it contains (as llama.cpp's
// llm_chat_detect_template): "<|im_start|>" -> ChatML, "<|start_header_id|>" -> Llama3,
// "[INST]" with "<<SYS>>" -> Llama2, "[INST]" without -> Mistral. Templates of formats not listed
// above (Mistral v3 / v7 with [AVAILABLE_TOOLS] / [SYSTEM_PROMPT], Phi-4's <|im_sep|>, ...) and
// unrecognised ones give nullopt.
std::optional<ChatFormat> detect_chat_format(const std::string& jinja_template);

// "llama2", "llama3", "chatml" or "mistral" (a --chat-template flag); anything else throws
// lockstep::Error listing these names.
ChatFormat parse_chat_format(const std::string& name);

// The name parse_chat_format() accepts for `format`.
std::string_view chat_format_name(ChatFormat format);

// A rendered prompt: its text, and where the messages' content lies in it.
struct ChatPrompt {
  std::string text;
  // The byte ranges of `text` that came from message content, as the format left it (trimmed
  // where the format trims): in order, non-overlapping, none empty. The rest is the format's
  // markup.
  std::vector<TextSpan> content;
};

// The prompt for `messages` (see the formats above). With add_generation_prompt, the text that
// opens an assistant reply is appended.
ChatPrompt format_chat(ChatFormat format, std::span<const ChatMessage> messages,
                       bool add_generation_prompt);

}  // namespace lockstep::tokenizer
