#include "runtime/sampler.h"

#include <algorithm>
#include <map>
#include <cmath>
#include <unordered_set>

#include "core/error.h"

namespace lockstep::runtime {

void SamplingParams::validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    fail("--temperature must be 0 (greedy) or positive, got {}", temperature);
  if (top_k < 0) fail("--top-k must be 0 (off) or positive, got {}", top_k);
  if (!(top_p > 0.0f && top_p <= 1.0f)) fail("--top-p must be in (0, 1], got {}", top_p);
  if (!(min_p >= 0.0f && min_p < 1.0f)) fail("--min-p must be in [0, 1), got {}", min_p);
  if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty))
    fail("--repeat-penalty must be positive, got {}", repeat_penalty);
  if (repeat_last_n < 0) fail("--repeat-last-n must be 0 or positive, got {}", repeat_last_n);
  if (!(std::abs(presence_penalty) <= 2.0f)) fail("presence_penalty must be in [-2, 2], got {}", presence_penalty);
  if (!(std::abs(frequency_penalty) <= 2.0f)) fail("frequency_penalty must be in [-2, 2], got {}", frequency_penalty);
}

std::int32_t argmax(std::span<const float> logits) {
  std::int32_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = static_cast<std::int32_t>(i);
  return best;
}

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) { params_.validate(); }

std::int32_t Sampler::sample(std::span<const float> logits, std::span<const std::int32_t> history) {
  work_.assign(logits.begin(), logits.end());
  const auto n_vocab = static_cast<std::int32_t>(work_.size());

  // Repetition penalty (CTRL / llama.cpp convention), once per distinct recent token.
  if (params_.repeat_penalty != 1.0f && params_.repeat_last_n > 0) {
    const std::size_t n = std::min<std::size_t>(history.size(), params_.repeat_last_n);
    std::unordered_set<std::int32_t> seen;
    for (std::size_t i = history.size() - n; i < history.size(); ++i) {
      const std::int32_t id = history[i];
      if (id < 0 || id >= n_vocab || !seen.insert(id).second) continue;
      work_[id] = work_[id] > 0 ? work_[id] / params_.repeat_penalty
                                : work_[id] * params_.repeat_penalty;
    }
  }
  // OpenAI's presence and frequency penalties over the whole history, in token-id order.
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    std::map<std::int32_t, int> counts;
    for (const std::int32_t id : history)
      if (id >= 0 && id < n_vocab) ++counts[id];
    for (const auto& [id, count] : counts)
      work_[id] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(count);
  }
  if (params_.greedy()) return argmax(work_);

  // Softmax at the temperature, then sort by probability (ties: lower id first).
  candidates_.clear();
  const float max = *std::max_element(work_.begin(), work_.end());
  double sum = 0.0;
  for (std::int32_t i = 0; i < n_vocab; ++i) {
    const float p = std::exp((work_[i] - max) / params_.temperature);
    candidates_.push_back({i, p});
    sum += p;
  }
  for (auto& c : candidates_) c.p = static_cast<float>(c.p / sum);
  // Nothing to cut (OpenAI's defaults: no top-k, top-p 1, no min-p): draw from the whole
  // distribution in id order, without sorting the vocabulary.
  if (params_.top_k == 0 && params_.top_p >= 1.0f && params_.min_p == 0.0f) return draw();
  std::size_t keep = candidates_.size();
  if (params_.top_k > 0) keep = std::min<std::size_t>(keep, params_.top_k);
  auto by_probability = [](const Candidate& a, const Candidate& b) {
    return a.p > b.p || (a.p == b.p && a.id < b.id);
  };
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(),
                    by_probability);
  candidates_.resize(keep);

  // top-p: the smallest prefix whose mass reaches p. min-p: relative to the top probability.
  double mass = 0.0;
  std::size_t top_p_keep = candidates_.size();
  for (std::size_t i = 0; i < candidates_.size(); ++i) {
    mass += candidates_[i].p;
    if (mass >= params_.top_p) {
      top_p_keep = i + 1;
      break;
    }
  }
  candidates_.resize(top_p_keep);
  const float floor = candidates_.front().p * params_.min_p;
  while (candidates_.size() > 1 && candidates_.back().p < floor) candidates_.pop_back();

  return draw();
}

std::int32_t Sampler::draw() {
  double total = 0.0;
  for (const auto& c : candidates_) total += c.p;
  double r = rng_.uniform() * total;
  for (const auto& c : candidates_) {
    r -= c.p;
    if (r < 0.0) return c.id;
  }
  return candidates_.back().id;
}

}  // namespace lockstep::runtime
