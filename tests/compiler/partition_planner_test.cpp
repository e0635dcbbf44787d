// The one partition planner: every catalog model on every chip preset `lockstep plan` sizes
// gets the count the compiler plans (the same function, and the commands print the same
// number); every plan's stages hold every unit once and fit their chips; small shapes fit one
// chip; Llama-2-70B fits the published 576 chips; forcing S or P works and an impossible forced
// plan is one error saying what would fit; on a system the compiler spreads over every chip.
#include "compiler/partition_planner.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "model/catalog.h"
#include "plan/deployment_plan.h"
#include "plan/lpu_sizing.h"
#include "support/expect_error.h"
#include "support/run_command.h"

namespace lockstep::compiler {
namespace {

using compiler::WeightPrecision;

const SystemConfig& preset(const std::string& name) {
  static std::map<std::string, SystemConfig> systems;
  auto it = systems.find(name);
  if (it == systems.end()) it = systems.emplace(name, load_system(name)).first;
  return it->second;
}

// The invariants every plan must hold.
void expect_valid(const PartitionPlan& plan, const model::ModelConfig& c) {
  ASSERT_EQ(plan.stage_plans.size(), std::size_t(plan.stages));
  EXPECT_EQ(plan.chips, std::int64_t(plan.stages) * plan.tensor_parallel);
  EXPECT_EQ(plan.units, plan.embedding_parts + (1 + plan.ffn_parts) * c.n_layer);
  int next = 0;
  for (const auto& s : plan.stage_plans) {
    EXPECT_EQ(s.first_unit, next);
    EXPECT_GT(s.end_unit, s.first_unit);
    EXPECT_LE(s.weight_bytes, s.total_bytes);
    next = s.end_unit;
  }
  EXPECT_EQ(next, plan.units);
  EXPECT_TRUE(plan.stage_plans.front().embedding);
  EXPECT_TRUE(plan.stage_plans.back().head);
  EXPECT_FALSE(plan.reason.empty());
  EXPECT_FALSE(plan.binds.empty());
}

// `lockstep plan` sizes on these chip presets (PlanRequest::lpu_chips).
const std::vector<std::string>& sized_presets() {
  static const std::vector<std::string> names = plan::PlanRequest{}.lpu_chips;
  return names;
}

TEST(PartitionPlannerTest, PlanSizesEveryCatalogModelAsTheCompilerPlansIt) {
  for (const auto& name : model::catalog_shape_names()) {
    const auto c = model::load_catalog_shape(name);
    for (const auto& chip : sized_presets()) {
      for (auto w : {WeightPrecision::Int8, WeightPrecision::Fp16}) {
        for (std::int64_t context : {std::int64_t{1024}, std::int64_t{4096}}) {
          SCOPED_TRACE(name + " on " + chip + " " + std::string(compiler::weight_precision_name(w)) + " " +
                       std::to_string(context));
          std::optional<PartitionPlan> compiler_plan;
          try {
            compiler_plan = plan_partition(c, preset(chip), w, context);
          } catch (const Error& e) {
            // No plan: the estimate finds no stage count whose fullest chip fits (a 70B-class
            // layer at fp16, or a large vocabulary's LM head share beside a unit on the last
            // stage). `plan` then says the same.
            EXPECT_NE(std::string(e.what()).find("cannot fit it"), std::string::npos) << e.what();
            EXPECT_THROW(plan::size_lpu(c, preset(chip), w, context), Error);
            continue;
          }
          expect_valid(*compiler_plan, c);
          if (compiler_plan->load > 1) {
            EXPECT_NE(compiler_plan->reason.find("placement decides"), std::string::npos) << compiler_plan->reason;
          }
          EXPECT_EQ(compiler_plan->fewest_chips, compiler_plan->chips);
          EXPECT_EQ(compiler_plan->binds, "SRAM per chip");
          const plan::LpuSizing sizing = plan::size_lpu(c, preset(chip), w, context);
          EXPECT_EQ(sizing.chips, compiler_plan->chips);
          EXPECT_EQ(sizing.stages, compiler_plan->stages);
          EXPECT_EQ(sizing.tensor_parallel, compiler_plan->tensor_parallel);
          EXPECT_EQ(sizing.reason, compiler_plan->reason);
          // The fewest: one stage less does not fit with the same P.
          if (compiler_plan->stages > 1) {
            EXPECT_THROW(plan_partition(c, preset(chip), w, context,
                                        {compiler_plan->stages - 1, compiler_plan->tensor_parallel}),
                         Error);
          }
        }
      }
    }
  }
}

TEST(PartitionPlannerTest, OnASystemTheCompilerSpreadsOverEveryChipAndSaysWhatItNeeds) {
  const auto& groq = preset("groq-576");
  for (const auto& name : model::catalog_shape_names()) {
    SCOPED_TRACE(name);
    const auto c = model::load_catalog_shape(name);
    const PartitionPlan whole = plan_partition(c, groq, WeightPrecision::Int8, 1024);
    expect_valid(whole, c);
    EXPECT_LE(whole.chips, 576);
    EXPECT_TRUE(whole.binds == "the system's chip count" || whole.binds == "the model's units") << whole.binds;
    EXPECT_TRUE(whole.chips == 576 || whole.stages == whole.units) << whole.reason;
    // The fewest on the system: the chip preset's count when the preset also splits 8 ways.
    PartitionRequest fewest;
    fewest.fewest = true;
    if (whole.fewest_chips == 0) {  // the estimate fits no stage count: the placement decides
      EXPECT_THROW(plan_partition(c, groq, WeightPrecision::Int8, 1024, fewest), Error);
      continue;
    }
    const PartitionPlan least = plan_partition(c, groq, WeightPrecision::Int8, 1024, fewest);
    expect_valid(least, c);
    EXPECT_EQ(least.chips, whole.fewest_chips);
    const PartitionPlan v1 = plan_partition(c, preset("lpu-v1"), WeightPrecision::Int8, 1024);
    if (v1.tensor_parallel == least.tensor_parallel) {
      EXPECT_EQ(v1.chips, least.chips);
    }
  }
}

TEST(PartitionPlannerTest, Llama2_70BInt8FitsThePublished576Chips) {
  const auto c = model::load_catalog_shape("llama-2-70b");
  const PartitionPlan p = plan_partition(c, preset("lpu-v1"), WeightPrecision::Int8, 1024);
  std::printf("[measured] llama-2-70b int8, context 1024, lpu-v1: %d stages x %d = %lld chips\n  %s\n", p.stages,
              p.tensor_parallel, static_cast<long long>(p.chips), p.reason.c_str());
  EXPECT_EQ(p.tensor_parallel, 8);  // one 70B layer (~0.9 GB at int8) cannot fit 4 chips
  EXPECT_LE(p.chips, 576);
  EXPECT_GE(p.chips, 576 / 2);
  EXPECT_NE(p.reason.find("Binds: the SRAM per chip"), std::string::npos) << p.reason;
}

TEST(PartitionPlannerTest, SmallShapesFitOneChip) {
  for (const char* name : {"tiny", "tiny-llama3", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"}) {
    SCOPED_TRACE(name);
    const auto c = model::load_catalog_shape(name);
    const PartitionPlan p = plan_partition(c, preset("lpu-v1"), WeightPrecision::Int8, c.n_ctx_train);
    expect_valid(p, c);
    EXPECT_EQ(p.chips, 1);
    EXPECT_NE(p.reason.find("fits one chip"), std::string::npos) << p.reason;
  }
}

TEST(PartitionPlannerTest, ForcingStagesOrTensorParallelIsObeyed) {
  const auto c = model::load_catalog_shape("llama-3.1-8b");
  const auto& v1 = preset("lpu-v1");
  const PartitionPlan p8 = plan_partition(c, v1, WeightPrecision::Int8, 4096, {0, 8});
  expect_valid(p8, c);
  EXPECT_EQ(p8.tensor_parallel, 8);
  EXPECT_EQ(p8.binds, "forced");
  const PartitionPlan both = plan_partition(c, v1, WeightPrecision::Int8, 4096, {8, 8});
  expect_valid(both, c);
  EXPECT_EQ(both.chips, 64);
  const PartitionPlan node = plan_partition(c, preset("groq-rack"), WeightPrecision::Int8, 4096, {2, 8});
  EXPECT_EQ(node.stages, 2);  // on a system a forced plan is the compiler's to place
}

TEST(PartitionPlannerTest, AnImpossibleRequestSaysWhatWouldFit) {
  const auto c = model::load_catalog_shape("llama-2-70b");
  testing::expect_error_naming([&] { plan_partition(c, preset("lpu-v1"), WeightPrecision::Int8, 4096, {10, 8}); },
                               "llama-2-70b", {"10 stages x 8-way tensor parallel", "8-way tensor parallel needs at least"});
  PartitionRequest fewest;
  fewest.fewest = true;
  testing::expect_error_naming([&] { plan_partition(c, preset("groq-node"), WeightPrecision::Int8, 1024, fewest); },
                               "llama-2-70b", {"groq-node", "needs at least"});
  testing::expect_error_naming([&] { plan_partition(c, preset("lpu-v1"), WeightPrecision::Int8, 0); },
                               "context", {"at least 1 token"});
  // More bytes than a whole system holds is said by the planner, before any chip is lowered.
  const auto small = model::load_catalog_shape("qwen3-0.6b");
  testing::expect_error_naming([&] { plan_partition(small, preset("groq-node"), WeightPrecision::Int8, 4096); },
                               "qwen3-0.6b", {"does not fit groq-node", "GB of SRAM", "needs at least 2 stages",
                                              "shorter --ctx"});
}

TEST(PartitionPlannerTest, PlansAreDeterministic) {
  const auto c = model::load_catalog_shape("qwen2.5-72b");
  const PartitionPlan a = plan_partition(c, preset("lpu-v2"), WeightPrecision::Int8, 2048);
  const PartitionPlan b = plan_partition(c, preset("lpu-v2"), WeightPrecision::Int8, 2048);
  EXPECT_EQ(a.first_units(), b.first_units());
  EXPECT_EQ(a.reason, b.reason);
}

// The commands print the planner's count: `compile` on a chip preset and `plan`'s sizing.
TEST(PartitionPlannerTest, CompileAndPlanPrintTheSameChipCount) {
  for (const char* name : {"llama-2-70b", "llama-3.1-8b"}) {
    SCOPED_TRACE(name);
    const auto c = model::load_catalog_shape(name);
    const PartitionPlan p = plan_partition(c, preset("lpu-v1"), WeightPrecision::Int8, 1024);
    const auto compiled = testing::run_lockstep({"compile", "--model-preset", name, "--ctx", "1024"});
    ASSERT_EQ(compiled.exit_code, 0) << compiled.err;
    EXPECT_NE(compiled.out.find(fmt::format("{} stages x {}-way tensor parallel = {} chips of lpu-v1", p.stages,
                                            p.tensor_parallel, p.chips)),
              std::string::npos)
        << compiled.out;
    EXPECT_NE(compiled.out.find("Binds: the SRAM per chip"), std::string::npos) << compiled.out;
    const auto planned = testing::run_lockstep({"plan", "--model", name, "--ctx", "1024", "--lpu-system", "",
                                                "--gpu", "h100-sxm", "--svg", "none", "--json"});
    ASSERT_EQ(planned.exit_code, 0) << planned.err;
    const auto j = nlohmann::json::parse(planned.out);
    EXPECT_EQ(j["lpu_sizing"][0]["chip"], "lpu-v1");
    EXPECT_EQ(j["lpu_sizing"][0]["chips"].get<std::int64_t>(), p.chips);
  }
}

}  // namespace
}  // namespace lockstep::compiler
