// Log-probabilities of generated tokens as OpenAI reports them: the chosen token's and the most
// likely alternatives', under the model's own distribution (a log-softmax of the raw logits,
// before temperature and penalties).
#pragma once

#include <cstdint>
#include <span>

#include "runtime/engine.h"

namespace lockstep::runtime {

// logits: [n_vocab] fp32. top: alternatives to list (0..20), best first, ties by lower id.
TokenLogprob token_logprob(std::span<const float> logits, std::int32_t token, int top,
                           const tokenizer::Tokenizer& tokenizer);

}  // namespace lockstep::runtime
