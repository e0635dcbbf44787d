#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"

namespace lockstep::runtime {
namespace {

std::vector<float> ramp_logits() {  // token i has logit i / 4: [32] fp32
  std::vector<float> l(32);
  for (int i = 0; i < 32; ++i) l[i] = i / 4.0f;
  return l;
}

TEST(Sampler, GreedyTakesArgmaxAndLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 1.0f;
  Sampler s(p);
  std::vector<float> l{1, 5, 3, 5, 2};
  EXPECT_EQ(s.sample(l, {}), 1);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  auto run = [](std::uint64_t seed) {
    SamplingParams p;
    p.temperature = 1.5f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    Sampler s(p);
    std::vector<std::int32_t> out;
    const auto l = ramp_logits();
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(l, {}));
    return out;
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikely) {
  SamplingParams p;
  p.temperature = 5.0f;  // nearly flat: without top-k, low ids would appear
  p.top_k = 3;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  Sampler s(p);
  const auto l = ramp_logits();
  for (int i = 0; i < 500; ++i) EXPECT_GE(s.sample(l, {}), 29);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities 0.5, 0.3, 0.2 (ids 0, 1, 2): top-p 0.7 keeps ids 0 and 1 only.
  std::vector<float> l{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.7f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  Sampler s(p);
  std::map<int, int> counts;
  for (int i = 0; i < 2000; ++i) counts[s.sample(l, {})]++;
  EXPECT_EQ(counts[2], 0);
  EXPECT_GT(counts[0], counts[1]);
  EXPECT_GT(counts[1], 400);
}

TEST(Sampler, MinPDropsTokensFarBelowTheTop) {
  std::vector<float> l{std::log(0.6f), std::log(0.35f), std::log(0.05f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.1f;  // floor 0.06: id 2 (0.05) is dropped
  p.repeat_penalty = 1.0f;
  Sampler s(p);
  for (int i = 0; i < 2000; ++i) EXPECT_NE(s.sample(l, {}), 2);
}

TEST(Sampler, FrequenciesFollowTheDistribution) {
  std::vector<float> l{std::log(0.25f), std::log(0.75f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  Sampler s(p);
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(l, {});
  EXPECT_NEAR(ones / double(n), 0.75, 0.015);
}

TEST(Sampler, RepetitionPenaltyDemotesRecentTokens) {
  std::vector<float> l{2.0f, 2.1f, -1.0f};
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 4;
  Sampler s(p);
  std::vector<std::int32_t> history{1};
  EXPECT_EQ(s.sample(l, history), 0);  // 2.1 / 1.5 = 1.4 < 2.0
  std::vector<std::int32_t> old{1, 5, 5, 5, 5};
  EXPECT_EQ(s.sample(l, old), 1);  // id 1 is outside the last 4 tokens
}

TEST(Sampler, RejectsInvalidParameters) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.temperature = -1;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.min_p = 1.0f;
  EXPECT_THROW(Sampler{p}, Error);
}

}  // namespace
}  // namespace lockstep::runtime

namespace lockstep::runtime {
namespace {

TEST(Sampler, PresenceAndFrequencyPenaltiesFollowOpenAIsFormula) {
  // logit[j] -= presence * (count_j > 0) + frequency * count_j, over the history.
  std::vector<float> l{3.0f, 2.0f, 1.0f};
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 1.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.4f;
  Sampler s(p);
  const std::vector<std::int32_t> twice_zero{0, 0};  // 3 - 0.5 - 0.8 = 1.7 < 2
  EXPECT_EQ(s.sample(l, twice_zero), 1);
  const std::vector<std::int32_t> once_zero{0};      // 3 - 0.5 - 0.4 = 2.1 > 2
  EXPECT_EQ(s.sample(l, once_zero), 0);
  p.presence_penalty = 2.5f;
  EXPECT_THROW(p.validate(), Error);
}

}  // namespace
}  // namespace lockstep::runtime
