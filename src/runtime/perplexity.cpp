#include "runtime/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace lockstep::runtime {

PerplexityResult perplexity(Backend& backend, std::span<const std::int32_t> tokens,
                            std::int64_t window, std::int64_t stride,
                            const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (n < 2) fail("perplexity needs at least 2 tokens of text, got {}", n);
  if (window < 2 || window > backend.context_length())
    fail("--ctx {} must be between 2 and the context of {} tokens", window, backend.context_length());
  stride = std::clamp<std::int64_t>(stride, 1, window - 1);
  const auto n_vocab = backend.model().config.n_vocab;

  // Window starts: 0, stride, 2*stride, ... while the previous window did not reach the end.
  std::vector<std::int64_t> starts{0};
  while (starts.back() + window < n) starts.push_back(starts.back() + stride);

  PerplexityResult result;
  const auto start_time = std::chrono::steady_clock::now();
  std::vector<float> logits;  // [len][n_vocab] fp32
  double nll_sum = 0.0;
  std::int64_t scored_until = 1;  // tokens before this index are scored (token 0 never is)
  for (std::size_t w = 0; w < starts.size(); ++w) {
    const std::int64_t begin = starts[w];
    const std::int64_t len = std::min(window, n - begin);
    logits.resize(static_cast<std::size_t>(len * n_vocab));
    backend.forward(tokens.subspan(begin, len), 0, logits, /*all_logits=*/true);
    for (std::int64_t i = std::max(scored_until, begin + 1); i < begin + len; ++i) {
      // Row (i - 1 - begin) predicts token i.
      std::span<const float> row(&logits[(i - 1 - begin) * n_vocab], n_vocab);
      const float max = *std::max_element(row.begin(), row.end());
      double sum = 0.0;
      for (float v : row) sum += std::exp(static_cast<double>(v) - max);
      nll_sum += std::log(sum) + max - row[tokens[i]];
      ++result.scored_tokens;
    }
    scored_until = begin + len;
    ++result.windows;
    if (progress) progress(result.windows, static_cast<std::int64_t>(starts.size()));
  }
  result.mean_nll = nll_sum / result.scored_tokens;
  result.perplexity = std::exp(result.mean_nll);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return result;
}

}  // namespace lockstep::runtime
