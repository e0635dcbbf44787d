// Token sampling: greedy, temperature, top-k, top-p, min-p, a repetition penalty and OpenAI's
// presence / frequency penalties, seeded.
// The same seed, logits and history always give the same token: ties are broken by the lower
// token id and the random stream is lockstep's own (core/rng.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/rng.h"

namespace lockstep::runtime {

struct SamplingParams {
  float temperature = 0.8f;     // 0 = greedy (argmax, lowest id on a tie)
  std::int32_t top_k = 40;      // keep the k most likely tokens; 0 = all
  float top_p = 0.95f;          // keep the smallest set whose probability reaches p; 1 = all
  float min_p = 0.05f;          // drop tokens below min_p x the top probability; 0 = none
  float repeat_penalty = 1.1f;  // divide positive (multiply negative) logits of recent tokens
  std::int32_t repeat_last_n = 64;  // how many recent tokens the penalty looks at; 0 = none
  // OpenAI's penalties, over every token of `history`: a token's logit loses presence_penalty
  // once it appears and frequency_penalty times its count. In [-2, 2]; 0 = off.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::uint64_t seed = 42;

  bool greedy() const { return temperature <= 0.0f; }
  // Throws lockstep::Error naming the parameter when a value is out of range.
  void validate() const;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // Picks the next token from `logits` ([n_vocab] fp32, not modified) given the tokens so far
  // (`history`, prompt included, for the repetition penalty).
  std::int32_t sample(std::span<const float> logits, std::span<const std::int32_t> history);

  const SamplingParams& params() const { return params_; }

 private:
  // One draw from candidates_ in their order, by their probabilities.
  std::int32_t draw();

  SamplingParams params_;
  Rng rng_;
  std::vector<float> work_;  // [n_vocab] penalised logits
  struct Candidate {
    std::int32_t id;
    float p;
  };
  std::vector<Candidate> candidates_;
};

// Index of the largest value; the lowest index on a tie.
std::int32_t argmax(std::span<const float> logits);

}  // namespace lockstep::runtime
