#include "tokenizer/chat_template.h"

#include <vector>

#include "core/error.h"

namespace lockstep::tokenizer {
namespace {

constexpr ChatFormat kAllFormats[] = {ChatFormat::Llama2, ChatFormat::Llama3, ChatFormat::ChatML,
                                      ChatFormat::Mistral};

bool contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

std::string trim(std::string_view text) {
  const std::string_view space = " \t\n\r\f\v";
  const std::size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  const std::size_t end = text.find_last_not_of(space);
  return std::string(text.substr(begin, end - begin + 1));
}

void check_roles(ChatFormat format, std::span<const ChatMessage> messages) {
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role != "system" && role != "user" && role != "assistant") {
      fail("chat message {} has role '{}' (the {} format knows system, user and assistant)", i,
           role, chat_format_name(format));
    }
    if (role == "system" && i != 0) {
      fail("chat message {} is a system message; only the first message may be one", i);
    }
  }
}

// Llama2 and Mistral: after an optional system message, user and assistant alternate.
void check_alternation(ChatFormat format, std::span<const ChatMessage> turns) {
  for (std::size_t i = 0; i < turns.size(); ++i) {
    const char* expected = i % 2 == 0 ? "user" : "assistant";
    if (turns[i].role != expected) {
      fail("the {} chat format needs user and assistant messages to alternate, starting with "
           "user; message {} after the system message is '{}'", chat_format_name(format), i,
           turns[i].role);
    }
  }
}

std::string format_inst(ChatFormat format, std::span<const ChatMessage> messages) {
  const ChatMessage* system = nullptr;
  if (!messages.empty() && messages[0].role == "system") {
    system = &messages[0];
    messages = messages.subspan(1);
    if (messages.empty()) {
      fail("the {} chat format needs a user message after the system message",
           chat_format_name(format));
    }
  }
  check_alternation(format, messages);
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string& content = messages[i].content;
    if (format == ChatFormat::Llama2) {
      if (i % 2 == 0) {
        std::string text = content;
        if (i == 0 && system) text = "<<SYS>>\n" + system->content + "\n<</SYS>>\n\n" + content;
        if (i > 0) out += "<s>";
        out += "[INST] " + trim(text) + " [/INST]";
      } else {
        out += " " + trim(content) + " </s>";
      }
    } else {  // Mistral
      if (i % 2 == 0) {
        out += "[INST] ";
        if (i == 0 && system) out += system->content + "\n\n";
        out += content + " [/INST]";
      } else {
        out += " " + content + "</s>";
      }
    }
  }
  return out;
}

}  // namespace

std::optional<ChatFormat> detect_chat_format(const std::string& t) {
  if (contains(t, "<|im_start|>")) {
    if (contains(t, "<|im_sep|>")) return std::nullopt;  // Phi-4: ChatML-like, not ChatML
    return ChatFormat::ChatML;
  }
  if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>")) {
    return ChatFormat::Llama3;
  }
  if (contains(t, "[INST]")) {
    if (contains(t, "[SYSTEM_PROMPT]") || contains(t, "[AVAILABLE_TOOLS]")) return std::nullopt;
    return contains(t, "<<SYS>>") ? ChatFormat::Llama2 : ChatFormat::Mistral;
  }
  return std::nullopt;
}

std::string_view chat_format_name(ChatFormat format) {
  switch (format) {
    case ChatFormat::Llama2: return "llama2";
    case ChatFormat::Llama3: return "llama3";
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Mistral: return "mistral";
  }
  return "unknown";
}

ChatFormat parse_chat_format(const std::string& name) {
  std::string names;
  for (ChatFormat f : kAllFormats) {
    if (name == chat_format_name(f)) return f;
    if (!names.empty()) names += ", ";
    names += chat_format_name(f);
  }
  fail("unknown chat template '{}' (known: {})", name, names);
}

std::string format_chat(ChatFormat format, std::span<const ChatMessage> messages,
                        bool add_generation_prompt) {
  check_roles(format, messages);
  std::string out;
  switch (format) {
    case ChatFormat::Llama2:
    case ChatFormat::Mistral:
      return format_inst(format, messages);  // the prompt already ends with "[/INST]"
    case ChatFormat::Llama3:
      for (const ChatMessage& m : messages) {
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) +
               "<|eot_id|>";
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return out;
    case ChatFormat::ChatML:
      for (const ChatMessage& m : messages) {
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      }
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      return out;
  }
  return out;
}

}  // namespace lockstep::tokenizer
