#include "runtime/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "model/model_loader.h"

namespace lockstep::runtime {
namespace {

std::vector<std::int32_t> some_tokens(std::size_t n) {
  std::vector<std::int32_t> t{1};
  for (std::size_t i = 1; i < n; ++i) t.push_back(static_cast<std::int32_t>(40 + (i * 37) % 200));
  return t;
}

TEST(Perplexity, OneWindowEqualsTheDirectFormula) {
  auto model = model::load_embedded_model();
  const auto tokens = some_tokens(20);
  auto backend = make_reference_backend(model, 32);
  auto r = perplexity(*backend, tokens, 32, 16, nullptr);
  EXPECT_EQ(r.windows, 1);
  EXPECT_EQ(r.scored_tokens, 19);

  const auto n_vocab = model->config.n_vocab;
  std::vector<float> logits(tokens.size() * n_vocab);
  backend->forward(tokens, 0, logits, true);
  double nll = 0;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const float* row = &logits[(i - 1) * n_vocab];
    double sum = 0;
    for (std::int64_t v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v]));
    nll += std::log(sum) - row[tokens[i]];
  }
  EXPECT_NEAR(r.perplexity, std::exp(nll / 19), 1e-6 * r.perplexity);
}

TEST(Perplexity, SlidingWindowsScoreEveryTokenOnce) {
  auto model = model::load_embedded_model();
  auto backend = make_reference_backend(model, 8);
  std::int64_t calls = 0;
  auto r = perplexity(*backend, some_tokens(21), 8, 4, [&](std::int64_t, std::int64_t) { ++calls; });
  EXPECT_EQ(r.scored_tokens, 20);
  EXPECT_EQ(r.windows, 5);  // starts 0, 4, 8, 12, 16 (the last reaches token 20)
  EXPECT_EQ(calls, 5);
  EXPECT_TRUE(std::isfinite(r.perplexity));
}

TEST(Perplexity, RejectsTooFewTokensAndOversizedWindows) {
  auto backend = make_reference_backend(model::load_embedded_model(), 8);
  EXPECT_THROW(perplexity(*backend, some_tokens(1), 8, 4, nullptr), Error);
  EXPECT_THROW(perplexity(*backend, some_tokens(30), 16, 4, nullptr), Error);
}

}  // namespace
}  // namespace lockstep::runtime
