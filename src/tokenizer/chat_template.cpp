#include "tokenizer/chat_template.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace lockstep::tokenizer {
namespace {

constexpr ChatFormat kAllFormats[] = {ChatFormat::Llama2, ChatFormat::Llama3, ChatFormat::ChatML,
                                      ChatFormat::Mistral};

bool contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

// The whitespace the Jinja templates' trim filter removes (Python's str.strip, ASCII part).
constexpr std::string_view kSpace = " \t\n\r\f\v";

bool is_space(char c) { return kSpace.find(c) != std::string_view::npos; }

std::string_view trim(std::string_view text) {
  const std::size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const std::size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

// Writes a ChatPrompt: the format's markup, and message content whose place it records.
class PromptWriter {
 public:
  void markup(std::string_view text) { prompt_.text += text; }
  void content(std::string_view text) {
    if (text.empty()) return;
    prompt_.content.push_back({prompt_.text.size(), text.size()});
    prompt_.text += text;
  }
  std::size_t size() const { return prompt_.text.size(); }

  // Removes the whitespace at both ends of what was written since size() was `from`, markup and
  // content alike (Llama 2 trims "<<SYS>>...<</SYS>>" and the user's text as one string); the
  // content spans shrink with it, and go when nothing of them is left.
  void trim_since(std::size_t from) {
    std::string& text = prompt_.text;
    std::size_t first = from;
    while (first < text.size() && is_space(text[first])) ++first;
    std::size_t last = text.size();
    while (last > first && is_space(text[last - 1])) --last;
    text.erase(last);
    text.erase(from, first - from);
    // Spans written before `from` end at or before it; the others move with the text.
    for (auto span = prompt_.content.rbegin();
         span != prompt_.content.rend() && span->begin >= from; ++span) {
      const std::size_t begin = std::clamp(span->begin, first, last) - (first - from);
      const std::size_t end = std::clamp(span->end(), first, last) - (first - from);
      *span = {begin, end - begin};
    }
    std::erase_if(prompt_.content, [](const TextSpan& span) { return span.size == 0; });
  }

  ChatPrompt take() { return std::move(prompt_); }

 private:
  ChatPrompt prompt_;
};

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

ChatPrompt format_inst(ChatFormat format, std::span<const ChatMessage> messages) {
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
  PromptWriter out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string& content = messages[i].content;
    const bool user = i % 2 == 0;
    if (format == ChatFormat::Llama2) {
      if (user) {
        if (i > 0) out.markup("<s>");
        out.markup("[INST] ");
        const std::size_t body = out.size();
        if (i == 0 && system) {
          out.markup("<<SYS>>\n");
          out.content(system->content);
          out.markup("\n<</SYS>>\n\n");
        }
        out.content(content);
        out.trim_since(body);
        out.markup(" [/INST]");
      } else {
        out.markup(" ");
        out.content(trim(content));
        out.markup(" </s>");
      }
    } else {  // Mistral
      if (user) {
        out.markup("[INST] ");
        if (i == 0 && system) {
          out.content(system->content);
          out.markup("\n\n");
        }
        out.content(content);
        out.markup(" [/INST]");
      } else {
        out.markup(" ");
        out.content(content);
        out.markup("</s>");
      }
    }
  }
  return out.take();
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

ChatPrompt format_chat(ChatFormat format, std::span<const ChatMessage> messages,
                       bool add_generation_prompt) {
  check_roles(format, messages);
  PromptWriter out;
  switch (format) {
    case ChatFormat::Llama2:
    case ChatFormat::Mistral:
      return format_inst(format, messages);  // the prompt already ends with "[/INST]"
    case ChatFormat::Llama3:
      for (const ChatMessage& m : messages) {
        out.markup("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n");
        out.content(trim(m.content));
        out.markup("<|eot_id|>");
      }
      if (add_generation_prompt) out.markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
      break;
    case ChatFormat::ChatML:
      for (const ChatMessage& m : messages) {
        out.markup("<|im_start|>" + m.role + "\n");
        out.content(m.content);
        out.markup("<|im_end|>\n");
      }
      if (add_generation_prompt) out.markup("<|im_start|>assistant\n");
      break;
  }
  return out.take();
}

}  // namespace lockstep::tokenizer
