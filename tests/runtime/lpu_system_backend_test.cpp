// The embedded model split over 2, 4, 8 and 16 simulated chips (pipeline stages x tensor
// parallel) against the reference pass: logits within the single chip's tolerance and the same
// 64 greedy tokens. Every step runs on the functional system simulator, which carries each C2C
// vector and checks the link rules.
#include "runtime/lpu_system_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "lpu/system_config.h"
#include "model/model_loader.h"
#include "runtime/generator.h"

namespace lockstep::runtime {
namespace {

constexpr std::int64_t kContext = 128;
constexpr int kTokens = 64;
constexpr float kLogitTolerance = 0.05f;  // as for one chip (lpu_backend_test.cpp)

std::vector<std::int32_t> greedy(Backend& backend, const std::vector<std::int32_t>& prompt) {
  GenerationOptions options;
  options.max_new_tokens = kTokens;
  options.stop_at_end_of_generation = false;
  options.sampling.temperature = 0.0f;
  std::vector<std::int32_t> out;
  generate(backend, prompt, options, [&](std::int32_t id) {
    out.push_back(id);
    return true;
  });
  return out;
}

struct Split {
  const char* system;
  int stages;
  int tensor_parallel;
  std::vector<int> first_units = {};  // forced cuts (units: E embedding parts, then layers)
  int embedding_parts = 0;
  int ffn_parts = 0;
  lpu::SystemRequest request() const {
    lpu::SystemRequest r(stages, tensor_parallel);
    r.first_units = first_units;
    r.embedding_parts = embedding_parts;
    r.ffn_parts = ffn_parts;
    return r;
  }
};

class LpuSystemBackendTest : public ::testing::TestWithParam<Split> {};

TEST_P(LpuSystemBackendTest, EmbeddedModelMatchesTheReference) {
  const Split split = GetParam();
  const auto m = model::load_model("");
  const lpu::SystemConfig system = lpu::load_system(split.system);
  auto reference = make_reference_backend(m, kContext);
  auto lpu = make_lpu_system_backend(m, system, kContext, split.request());
  const std::vector<std::int32_t> prompt = {1, 7, 42, 5, 99};
  const std::size_t n = prompt.size() * m->config.n_vocab;
  std::vector<float> want(n), got(n);
  reference->forward(prompt, 0, want, true);
  lpu->forward(prompt, 0, got, true);
  float worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(want[i] - got[i]));
  std::printf("[measured] %d x %d chips: max |logit error| %.3g; %llu system cycles per step\n",
              split.stages, split.tensor_parallel, worst,
              static_cast<unsigned long long>(lpu->cycles_per_step()));
  EXPECT_LE(worst, kLogitTolerance);
  auto reference2 = make_reference_backend(m, kContext);
  auto lpu2 = make_lpu_system_backend(m, system, kContext, split.request());
  EXPECT_EQ(greedy(*reference2, prompt), greedy(*lpu2, prompt));
}

INSTANTIATE_TEST_SUITE_P(Splits, LpuSystemBackendTest,
                         ::testing::Values(Split{"groq-node", 1, 2}, Split{"groq-node", 2, 2},
                                           Split{"groq-node", 1, 8}, Split{"groq-rack", 2, 8},
                                           // The embedding over two stages (the second adds its
                                           // rows' part), and FFNs cut in two column groups with
                                           // a stage boundary inside one (units: 2 embedding
                                           // parts, then 3 per layer).
                                           Split{"groq-node", 3, 2, {0, 1, 4}, 2, 2}),
                         [](const auto& info) {
                           return std::to_string(info.param.stages * info.param.tensor_parallel) + "_chips_" +
                                  std::to_string(info.param.stages) + "x" +
                                  std::to_string(info.param.tensor_parallel) +
                                  (info.param.first_units.empty() ? "" : "_cut");
                         });

}  // namespace
}  // namespace lockstep::runtime
