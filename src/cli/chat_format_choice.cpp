#include "cli/chat_format_choice.h"

namespace lockstep::cli {

std::optional<tokenizer::ChatFormat> choose_chat_format(const std::string& chat_template_flag,
                                                        const model::Model& model) {
  if (!chat_template_flag.empty()) return tokenizer::parse_chat_format(chat_template_flag);
  return tokenizer::detect_chat_format(model.tokenizer->vocabulary().chat_template.value_or(""));
}

}  // namespace lockstep::cli
