// The generation loop: prefill the prompt, then sample and decode one token at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/backend.h"
#include "runtime/sampler.h"

namespace lockstep::runtime {

struct GenerationOptions {
  std::int64_t max_new_tokens = 128;
  bool stop_at_end_of_generation = true;  // stop after an EOS / EOT token (it is not emitted)
  std::int64_t prefill_chunk = 256;       // prompt tokens per forward call
  SamplingParams sampling;
};

struct GenerationStats {
  std::int64_t prompt_tokens = 0;
  std::int64_t generated_tokens = 0;
  double prompt_seconds = 0;         // prefill of the whole prompt, s
  double first_token_seconds = 0;    // time to first token (prefill + first sample), s
  double decode_seconds = 0;         // from the first token to the last, s
  bool stopped_at_end_of_generation = false;

  double prompt_tokens_per_second() const { return prompt_tokens / prompt_seconds; }
  // Decode rate over the tokens after the first (the first is paid by the prefill).
  double decode_tokens_per_second() const {
    return generated_tokens > 1 ? (generated_tokens - 1) / decode_seconds : 0.0;
  }
};

// Generates after `prompt` (which must fit the backend's context with room for one more token).
// on_token(id) is called for every generated token as soon as it is chosen; returning false
// stops generation. Throws lockstep::Error when the prompt is empty or too long.
GenerationStats generate(Backend& backend, std::span<const std::int32_t> prompt,
                         const GenerationOptions& options,
                         const std::function<bool(std::int32_t)>& on_token);

}  // namespace lockstep::runtime
