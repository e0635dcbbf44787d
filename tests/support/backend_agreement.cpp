#include "support/backend_agreement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "runtime/generator.h"

namespace lockstep::testing {
namespace {

std::vector<std::int32_t> greedy(runtime::Backend& backend, const std::vector<std::int32_t>& prompt,
                                 int tokens) {
  runtime::GenerationOptions options;
  options.max_new_tokens = tokens;
  options.stop_at_end_of_generation = false;
  options.sampling.temperature = 0.0f;
  std::vector<std::int32_t> out;
  runtime::generate(backend, prompt, options, [&](std::int32_t id) {
    out.push_back(id);
    return true;
  });
  return out;
}

}  // namespace

float expect_backend_matches_reference(
    std::shared_ptr<const model::Model> m,
    const std::function<std::unique_ptr<runtime::Backend>()>& make, const std::string& label,
    const AgreementCheck& check, const std::function<std::string(const runtime::Backend&)>& detail) {
  auto reference = runtime::make_reference_backend(m, check.context);
  auto target = make();
  const std::vector<std::int32_t> prompt = {1, 7, 42, 5, 99 % static_cast<int>(m->config.n_vocab)};
  // Logits of the prompt, every position.
  const std::size_t n = prompt.size() * m->config.n_vocab;
  std::vector<float> want(n), got(n);
  reference->forward(prompt, 0, want, true);
  target->forward(prompt, 0, got, true);
  float worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(want[i] - got[i]));
  std::printf("[measured] %s: max |logit error| %.3g over %zu logits%s\n", label.c_str(), worst, n,
              detail ? ("; " + detail(*target)).c_str() : "");
  EXPECT_LE(worst, check.logit_tolerance) << label;
  auto reference2 = runtime::make_reference_backend(m, check.context);
  auto target2 = make();
  EXPECT_EQ(greedy(*reference2, prompt, check.greedy_tokens),
            greedy(*target2, prompt, check.greedy_tokens))
      << label;
  return worst;
}

}  // namespace lockstep::testing
