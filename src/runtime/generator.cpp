#include "runtime/generator.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace lockstep::runtime {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GenerationStats generate(Backend& backend, std::span<const std::int32_t> prompt,
                         const GenerationOptions& options,
                         const std::function<bool(std::int32_t)>& on_token) {
  const auto& model = backend.model();
  const auto n_ctx = backend.context_length();
  const auto n_prompt = static_cast<std::int64_t>(prompt.size());
  if (n_prompt == 0) fail("the prompt is empty: give some text (or a model that adds BOS)");
  if (n_prompt >= n_ctx)
    fail("the prompt is {} tokens but the context holds {}: shorten the prompt or raise --ctx",
         n_prompt, n_ctx);

  GenerationStats stats;
  stats.prompt_tokens = n_prompt;
  Sampler sampler(options.sampling);
  std::vector<std::int32_t> history(prompt.begin(), prompt.end());
  std::vector<float> logits(model.config.n_vocab);  // [n_vocab] fp32 of the newest position

  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t pos = 0; pos < n_prompt; pos += options.prefill_chunk) {
    const auto n = std::min(options.prefill_chunk, n_prompt - pos);
    backend.forward(prompt.subspan(pos, n), pos, logits, /*all_logits=*/false);
  }
  stats.prompt_seconds = seconds_since(start);

  const auto max_new = std::min(options.max_new_tokens, n_ctx - n_prompt);
  std::chrono::steady_clock::time_point first_token_time;
  for (std::int64_t i = 0; i < max_new; ++i) {
    const std::int32_t token = sampler.sample(logits, history);
    if (i == 0) {
      stats.first_token_seconds = seconds_since(start);
      first_token_time = std::chrono::steady_clock::now();
    }
    if (options.stop_at_end_of_generation && model.tokenizer->is_end_of_generation(token)) {
      stats.stopped_at_end_of_generation = true;
      break;
    }
    history.push_back(token);
    ++stats.generated_tokens;
    if (!on_token(token)) break;
    if (i + 1 == max_new) break;  // no need to compute logits nobody will sample
    const std::int64_t pos = static_cast<std::int64_t>(history.size()) - 1;
    backend.forward(std::span(&history.back(), 1), pos, logits, false);
  }
  if (stats.generated_tokens > 0) stats.decode_seconds = seconds_since(first_token_time);
  return stats;
}

}  // namespace lockstep::runtime
