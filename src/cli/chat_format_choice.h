// The chat format a command uses for a model: --chat-template when given (llama2, llama3,
// chatml, mistral; anything else is one sentence listing these), else the format the model's
// own Jinja template writes; nullopt when it has none lockstep recognises (the caller decides:
// `run --chat` refuses, `serve` falls back to ChatML and says so).
#pragma once

#include <optional>
#include <string>

#include "model/model.h"
#include "tokenizer/chat_template.h"

namespace lockstep::cli {

std::optional<tokenizer::ChatFormat> choose_chat_format(const std::string& chat_template_flag,
                                                        const model::Model& model);

}  // namespace lockstep::cli
