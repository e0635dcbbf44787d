#include "runtime/logprobs.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace lockstep::runtime {

TokenLogprob token_logprob(std::span<const float> logits, std::int32_t token, int top,
                           const tokenizer::Tokenizer& tokenizer) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (const float x : logits) sum += std::exp(static_cast<double>(x - max));
  const double log_sum = std::log(sum) + max;
  TokenLogprob out;
  out.token = tokenizer.token_to_piece(token);
  out.logprob = logits[static_cast<std::size_t>(token)] - log_sum;
  if (top > 0) {
    std::vector<std::int32_t> ids(logits.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(i);
    const auto n = std::min<std::size_t>(static_cast<std::size_t>(top), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
                      [&](std::int32_t a, std::int32_t b) {
                        const float la = logits[static_cast<std::size_t>(a)];
                        const float lb = logits[static_cast<std::size_t>(b)];
                        return la != lb ? la > lb : a < b;
                      });
    for (std::size_t i = 0; i < n; ++i)
      out.top.emplace_back(tokenizer.token_to_piece(ids[i]),
                           logits[static_cast<std::size_t>(ids[i])] - log_sum);
  }
  return out;
}

}  // namespace lockstep::runtime
