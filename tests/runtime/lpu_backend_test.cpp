// The simulated chip against the reference pass (the oracle checked against llama.cpp): the
// same greedy tokens for 64 steps and logits within the documented tolerance, on the embedded
// model and on synthetic models of every architecture; the same bits and cycles on every run.
#include "runtime/lpu_backend.h"

#include <gtest/gtest.h>

#include "support/lpu_agreement.h"
#include "support/lpu_chip.h"

#include <cmath>
#include <cstring>
#include <filesystem>

#include "model/catalog.h"
#include "model/model_loader.h"
#include "model/synthetic_model.h"
#include "runtime/generator.h"
#include "support/paths.h"

namespace lockstep::runtime {
namespace {

constexpr std::int64_t kContext = testing::kLpuTestContext;

void expect_same_as_reference(std::shared_ptr<const model::Model> m) {
  testing::expect_lpu_matches_reference(
      m, [&] { return make_lpu_backend(m, lockstep::testing::test_system(), kContext); }, m->config.name);
}

TEST(LpuBackendTest, EmbeddedModelMatchesTheReference) { expect_same_as_reference(model::load_model("")); }

class LpuArchitectureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LpuArchitectureTest, SyntheticModelMatchesTheReference) {
  const std::string path = lockstep::testing::scratch_dir("lpu") + "/" + GetParam() + ".gguf";
  model::SyntheticModelOptions options;
  options.matrix_type = numerics::TensorType::F16;
  model::write_synthetic_model(model::load_catalog_entry(GetParam()), options, path);
  expect_same_as_reference(model::load_model(path));
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, LpuArchitectureTest,
                         ::testing::Values("tiny", "tiny-llama3", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) if (ch == '-') ch = '_';
                           return s;
                         });

// With small banks the embedding and the value cache are cut into several tables (a Gather
// table must sit in one bank); decoding across the cut still follows the reference.
TEST(LpuBackendTest, TablesSplitOverBanksMatchTheReference) {
  const std::string path = lockstep::testing::scratch_dir("lpu") + "/tiny.gguf";
  model::write_synthetic_model(model::load_catalog_entry("tiny"), {}, path);
  auto m = model::load_model(path);
  lpu::SystemConfig small = lockstep::testing::test_system();
  small.chip.vectors_per_bank = 256;
  constexpr std::int64_t kLongContext = 160;
  auto reference = make_reference_backend(m, kLongContext);
  auto lpu = make_lpu_backend(m, small, kLongContext);
  GenerationOptions options;
  options.max_new_tokens = 150;  // positions 5 .. 154 cross the value table's cut at 128
  options.stop_at_end_of_generation = false;
  options.sampling.temperature = 0.0f;
  const std::vector<std::int32_t> prompt = {1, 2, 3, 4, 5};
  std::vector<std::int32_t> want, got;
  generate(*reference, prompt, options, [&](std::int32_t id) { want.push_back(id); return true; });
  generate(*lpu, prompt, options, [&](std::int32_t id) { got.push_back(id); return true; });
  EXPECT_EQ(want, got);
}

TEST(LpuBackendTest, RunsAreBitIdentical) {
  auto m = model::load_model("");
  std::vector<float> a(m->config.n_vocab), b(m->config.n_vocab);
  auto first = make_lpu_backend(m, lockstep::testing::test_system(), kContext);
  auto second = make_lpu_backend(m, lockstep::testing::test_system(), kContext);
  const std::vector<std::int32_t> prompt = {3, 14, 15, 92};
  first->forward(prompt, 0, a, false);
  second->forward(prompt, 0, b, false);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  EXPECT_EQ(first->cycles_per_step(), second->cycles_per_step());
}

}  // namespace
}  // namespace lockstep::runtime
