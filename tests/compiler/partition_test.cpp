// Partitioning across chips: Llama-2-70B at int8 lands near the published 576 chips; small
// shapes fit one chip; every stage of every plan fits its chip; forcing S or P works and an
// impossible forced plan is one error saying what would fit; plans are deterministic.
#include "compiler/partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "compiler/model_footprint.h"
#include "model/catalog.h"
#include "support/expect_error.h"

namespace lockstep::lpu {
namespace {

using compiler::WeightPrecision;

const ChipConfig& v1() {
  static const ChipConfig chip = load_system("lpu-v1").chip;
  return chip;
}

// The invariants every plan must hold.
void expect_valid(const PartitionPlan& plan, const model::ModelConfig& c) {
  ASSERT_EQ(plan.stage_plans.size(), std::size_t(plan.stages));
  EXPECT_EQ(plan.chips, std::int64_t(plan.stages) * plan.tensor_parallel);
  EXPECT_TRUE(plan.tensor_parallel == 1 || plan.tensor_parallel == 2 ||
              plan.tensor_parallel == 4 || plan.tensor_parallel == 8);
  EXPECT_LE(plan.budget_bytes, plan.chip_bytes);
  int next = 0, min_layers = 1 << 30, max_layers = 0;
  std::uint64_t embedding = 0, head = 0;
  for (const auto& s : plan.stage_plans) {
    EXPECT_LE(s.total_bytes(), plan.budget_bytes) << plan.reason;
    EXPECT_EQ(s.first_layer, next);
    next += s.layer_count;
    if (s.layer_count > 0) {
      min_layers = std::min(min_layers, s.layer_count);
      max_layers = std::max(max_layers, s.layer_count);
    }
    embedding += s.embedding_rows * plan.tensor_parallel;
    head += s.head_rows * plan.tensor_parallel;
  }
  EXPECT_EQ(next, c.n_layer);
  EXPECT_GE(embedding, std::uint64_t(c.n_vocab));  // every row somewhere
  EXPECT_GE(head, std::uint64_t(c.n_vocab));
  EXPECT_GT(plan.stage_plans.front().embedding_rows, 0u);
  EXPECT_GT(plan.stage_plans.back().head_rows, 0u);
  EXPECT_FALSE(plan.reason.empty());
}

void print(const char* what, const PartitionPlan& p) {
  std::printf("[measured] %s: %d stages x %d-way tensor parallel = %lld chips (largest stage %.1f%% "
              "of a chip)\n  %s\n",
              what, p.stages, p.tensor_parallel, static_cast<long long>(p.chips),
              100 * std::max_element(p.stage_plans.begin(), p.stage_plans.end(),
                                     [](const StagePlan& a, const StagePlan& b) {
                                       return a.total_bytes() < b.total_bytes();
                                     })->total_bytes() / double(p.chip_bytes),
              p.reason.c_str());
}

// The published figure is 576 chips (8 racks x 72) for Llama-2-70B at 8 bits (FACTS.md). Our
// layouts pad q/k/v to 160 lanes per head and keep a 10% headroom, and the published count is
// a rack multiple, not a minimum, so we assert within 0.5x-1.5x of 576, and that the split is
// 8-way (one 70B layer, ~0.9 GB at int8, cannot fit 4 chips of 230 MB).
TEST(PartitionTest, Llama2_70BInt8LandsNearThePublished576Chips) {
  const auto c = model::load_catalog_shape("llama-2-70b");
  for (std::int64_t context : {std::int64_t{4096}, std::int64_t{700}}) {
    SCOPED_TRACE(context);
    const PartitionPlan p = plan_partition(c, v1(), WeightPrecision::Int8, context);
    print(context == 700 ? "llama-2-70b int8, context 700 (550 prompt + 150 output)"
                         : "llama-2-70b int8, context 4096",
          p);
    expect_valid(p, c);
    EXPECT_GE(p.chips, 576 / 2);
    EXPECT_LE(p.chips, 576 * 3 / 2);
    EXPECT_EQ(p.tensor_parallel, 8);
    EXPECT_GE(p.chips, model_footprint(c, v1(), WeightPrecision::Int8, context).chips_needed);
  }
}

TEST(PartitionTest, SmallShapesFitOneChip) {
  for (const char* name : {"tiny", "tiny-llama3", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"}) {
    SCOPED_TRACE(name);
    const auto c = model::load_catalog_shape(name);
    const PartitionPlan p = plan_partition(c, v1(), WeightPrecision::Int8, c.n_ctx_train);
    expect_valid(p, c);
    EXPECT_EQ(p.chips, 1);
    EXPECT_EQ(p.stages, 1);
    EXPECT_EQ(p.tensor_parallel, 1);
    EXPECT_NE(p.reason.find("fits one chip"), std::string::npos) << p.reason;
  }
}

TEST(PartitionTest, Llama31_8BNeedsNoFewerChipsThanItsBytes) {
  const auto c = model::load_catalog_shape("llama-3.1-8b");
  const PartitionPlan p = plan_partition(c, v1(), WeightPrecision::Int8, 4096);
  print("llama-3.1-8b int8, context 4096", p);
  expect_valid(p, c);
  const auto lower = model_footprint(c, v1(), WeightPrecision::Int8, 4096).chips_needed;
  EXPECT_GE(p.chips, lower);
  EXPECT_LE(p.chips, 2 * lower);
}

TEST(PartitionTest, EveryStageOfEveryCatalogPlanFitsItsChip) {
  for (const auto& name : model::catalog_shape_names()) {
    const auto c = model::load_catalog_shape(name);
    for (auto w : {WeightPrecision::Int8, WeightPrecision::Fp16}) {
      for (std::int64_t context : {std::int64_t{128}, std::int64_t{4096}}) {
        SCOPED_TRACE(name + " " + std::string(compiler::weight_precision_name(w)) + " " +
                     std::to_string(context));
        // A layer too big for 8 chips (a 70B-class layer at fp16) has no plan: splitting one
        // layer beyond a node is not modelled. That must be the error, and only at fp16.
        try {
          expect_valid(plan_partition(c, v1(), w, context), c);
        } catch (const Error& e) {
          EXPECT_EQ(w, WeightPrecision::Fp16) << e.what();
          EXPECT_NE(std::string(e.what()).find("8-way tensor parallel cannot fit one layer"),
                    std::string::npos)
              << e.what();
        }
      }
    }
  }
}

TEST(PartitionTest, ForcingStagesOrTensorParallelIsObeyed) {
  const auto c = model::load_catalog_shape("llama-3.1-8b");
  const PartitionPlan p8 = plan_partition(c, v1(), WeightPrecision::Int8, 4096, {0, 8, 0});
  expect_valid(p8, c);
  EXPECT_EQ(p8.tensor_parallel, 8);
  EXPECT_NE(p8.reason.find("forced"), std::string::npos);
  const PartitionPlan s = plan_partition(c, v1(), WeightPrecision::Int8, 4096, {20, 0, 0});
  expect_valid(s, c);
  EXPECT_EQ(s.stages, 20);
  const PartitionPlan both = plan_partition(c, v1(), WeightPrecision::Int8, 4096, {8, 8, 0});
  expect_valid(both, c);
  EXPECT_EQ(both.stages, 8);
  EXPECT_EQ(both.tensor_parallel, 8);
  EXPECT_EQ(both.chips, 64);
}

TEST(PartitionTest, AnImpossibleForcedPlanSaysWhatWouldFit) {
  const auto c = model::load_catalog_shape("llama-2-70b");
  auto plan = [&](PartitionRequest r) { plan_partition(c, v1(), WeightPrecision::Int8, 4096, r); };
  testing::expect_error_naming([&] { plan({0, 4, 0}); }, "llama-2-70b",
                               {"4-way tensor parallel", "8-way tensor parallel needs at least"});
  testing::expect_error_naming([&] { plan({10, 0, 0}); }, "llama-2-70b",
                               {"10 stages", "needs at least"});
  testing::expect_error_naming([&] { plan({0, 0, 100}); }, "llama-2-70b",
                               {"at most 100 chips", "needs at least"});
  testing::expect_error_naming([&] { plan({0, 3, 0}); }, "3", {"1, 2, 4 or 8"});
}

TEST(PartitionTest, PlansAreDeterministic) {
  const auto c = model::load_catalog_shape("llama-2-70b");
  const PartitionPlan a = plan_partition(c, v1(), WeightPrecision::Int8, 4096);
  const PartitionPlan b = plan_partition(c, v1(), WeightPrecision::Int8, 4096);
  EXPECT_EQ(a.reason, b.reason);
  ASSERT_EQ(a.stage_plans.size(), b.stage_plans.size());
  for (std::size_t i = 0; i < a.stage_plans.size(); ++i) {
    EXPECT_EQ(a.stage_plans[i].layer_count, b.stage_plans[i].layer_count);
    EXPECT_EQ(a.stage_plans[i].total_bytes(), b.stage_plans[i].total_bytes());
  }
}

}  // namespace
}  // namespace lockstep::lpu
