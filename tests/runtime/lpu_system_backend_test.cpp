// The embedded model split over 2, 4, 8 and 16 simulated chips (pipeline stages x tensor
// parallel) against the reference pass: logits within the single chip's tolerance and the same
// 64 greedy tokens. Every step runs on the functional system simulator, which carries each C2C
// vector and checks the link rules.
#include "runtime/lpu_system_backend.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "lpu/arch/system_config.h"
#include "model/model_loader.h"
#include "support/lpu_agreement.h"

namespace lockstep::runtime {
namespace {

struct Split {
  const char* system;
  int stages;
  int tensor_parallel;
  std::vector<int> first_units = {};  // forced cuts (units: E embedding parts, then layers)
  int embedding_parts = 0;
  int ffn_parts = 0;
  compiler::PartitionRequest request() const {
    compiler::PartitionRequest r(stages, tensor_parallel);
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
  testing::expect_lpu_matches_reference(
      m, [&] { return make_lpu_system_backend(m, system, testing::kLpuTestContext, split.request()); },
      fmt::format("{} x {} chips", split.stages, split.tensor_parallel));
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
