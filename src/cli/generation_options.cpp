#include "cli/generation_options.h"

#include <algorithm>
#include <fmt/format.h>

namespace lockstep::cli {

void add_sampling_options(CLI::App& command, runtime::SamplingParams& params) {
  command.add_option("--temperature,--temp", params.temperature,
                     "sampling temperature; 0 = greedy")->capture_default_str();
  command.add_option("--top-k", params.top_k, "keep the k most likely tokens; 0 = off")
      ->capture_default_str();
  command.add_option("--top-p", params.top_p, "nucleus sampling mass; 1 = off")->capture_default_str();
  command.add_option("--min-p", params.min_p, "drop tokens below min-p x the top probability; 0 = off")
      ->capture_default_str();
  command.add_option("--repeat-penalty", params.repeat_penalty,
                     "penalty on recently generated tokens; 1 = off")->capture_default_str();
  command.add_option("--repeat-last-n", params.repeat_last_n,
                     "tokens the repetition penalty looks back over")->capture_default_str();
  command.add_option("--seed", params.seed, "random seed: same seed, same output")
      ->capture_default_str();
  command.add_flag_callback("--greedy", [&params] { params.temperature = 0.0f; },
                            "always take the most likely token (same as --temperature 0)");
}

std::int64_t choose_context(std::int64_t requested, std::int64_t trained) {
  if (requested > 0) return requested;
  return std::min<std::int64_t>(trained, 2048);
}

std::string describe_generation(const runtime::GenerationStats& s) {
  std::string text = fmt::format(
      "prompt: {} tokens in {:.1f} ms ({:.1f} tokens/s) | time to first token: {:.1f} ms",
      s.prompt_tokens, s.prompt_seconds * 1e3, s.prompt_tokens_per_second(),
      s.first_token_seconds * 1e3);
  if (s.generated_tokens > 1)
    text += fmt::format(" | decode: {} tokens in {:.2f} s ({:.1f} tokens/s)", s.generated_tokens,
                        s.decode_seconds, s.decode_tokens_per_second());
  else
    text += fmt::format(" | decode: {} token", s.generated_tokens);
  return text;
}

}  // namespace lockstep::cli
