// Perplexity of a token sequence under a model, with sliding windows.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "runtime/backend.h"

namespace lockstep::runtime {

struct PerplexityResult {
  double perplexity = 0;      // exp(mean negative log-likelihood)
  double mean_nll = 0;        // nats per scored token
  std::int64_t scored_tokens = 0;
  std::int64_t windows = 0;
  double seconds = 0;
};

// Windows of `window` tokens (<= the backend's context) advance by `stride` tokens; each token
// is scored once, in the first window that sees it with at least window - stride tokens of
// context (the first window scores all its tokens after the first). progress(done, total)
// reports windows. Throws lockstep::Error when there are fewer than 2 tokens.
PerplexityResult perplexity(Backend& backend, std::span<const std::int32_t> tokens,
                            std::int64_t window, std::int64_t stride,
                            const std::function<void(std::int64_t, std::int64_t)>& progress);

}  // namespace lockstep::runtime
