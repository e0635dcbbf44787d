// The planner end to end on a small model: LPU rows from a real compile (groq-node), GPU rows
// from the analytic model, every point priced; and `lockstep plan` as a user runs it.
#include "plan/deployment_plan.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/error.h"
#include "support/paths.h"
#include "support/run_command.h"

namespace lockstep::plan {
namespace {

PlanRequest small_request() {
  PlanRequest r;
  r.model = "tiny";
  r.context = 128;
  r.lpu_system = "groq-node";
  r.gpus = {"h100-sxm"};
  return r;
}

TEST(DeploymentPlan, PricesLpuAndGpuRowsAlongTheBatch) {
  ::setenv("LOCKSTEP_CACHE_DIR", lockstep::testing::scratch_dir("plan-cache").c_str(), 1);
  const DeploymentPlan p = make_plan(small_request(), {});
  ASSERT_EQ(p.options.size(), 3u);  // the LPU; the GPU at 1 per copy and at 8 per copy
  ASSERT_EQ(p.lpu_sizing.size(), 2u);  // lpu-v1 and lpu-v2
  EXPECT_EQ(p.lpu_sizing[0].chips, 1);  // the tiny model fits one chip
  for (const auto& option : p.options) {
    ASSERT_FALSE(option.points.empty()) << option.name;
    EXPECT_GT(option.capex_usd, 0) << option.name;
    for (std::size_t i = 0; i < option.points.size(); ++i) {
      const PlanPoint& pt = option.points[i];
      EXPECT_GT(pt.tokens_per_s_per_user, 0);
      EXPECT_GT(pt.usd_per_million_tokens, 0);
      EXPECT_GT(pt.joules_per_token, 0);
      if (i == 0) continue;
      // More tokens per system from the same hardware: cheaper per token, never faster per user.
      EXPECT_GE(pt.tokens_per_s_per_system, option.points[i - 1].tokens_per_s_per_system);
      EXPECT_LE(pt.usd_per_million_tokens, option.points[i - 1].usd_per_million_tokens * (1 + 1e-12));
      EXPECT_LE(pt.tokens_per_s_per_user, option.points[i - 1].tokens_per_s_per_user * (1 + 1e-12));
    }
  }
  EXPECT_EQ(p.options[0].kind, "lpu");
  EXPECT_EQ(p.options[1].kind, "gpu");
  EXPECT_EQ(p.options[2].chips_per_unit, 8);
  EXPECT_DOUBLE_EQ(p.options[2].capex_usd, p.options[1].capex_usd);  // the same 8-GPU system
  EXPECT_EQ(p.gpu_sizing[0].gpus_per_unit, 1);
  ::unsetenv("LOCKSTEP_CACHE_DIR");
}

TEST(DeploymentPlan, BadInputsAreOneSentenceNamingThem) {
  PlanRequest r = small_request();
  r.lpu_system.clear();
  r.gpus = {"h900"};
  try {
    make_plan(r, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h900"), std::string::npos) << e.what();
  }
  r = small_request();
  r.context = 0;
  EXPECT_THROW(make_plan(r, {}), Error);
  r = small_request();
  r.model = "no-such-model";
  EXPECT_THROW(make_plan(r, {}), Error);
}

TEST(PlanCommand, ReproducesFigure11AndDrawsTheFrontier) {
  auto r = lockstep::testing::run_lockstep({"plan", "--scenario", "report-figure11"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* figure : {"5.20", "0.57", "1.94", "3.48", "58,409", "300.9"})
    EXPECT_NE(r.out.find(figure), std::string::npos) << figure;
  const std::string svg = lockstep::testing::scratch_dir("plan-cli") + "/tiny.svg";
  ::setenv("LOCKSTEP_CACHE_DIR", lockstep::testing::scratch_dir("plan-cli-cache").c_str(), 1);
  r = lockstep::testing::run_lockstep({"plan", "--model", "tiny", "--ctx", "128", "--lpu-system", "groq-node",
                                       "--gpu", "h100-sxm,b300", "--svg", svg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("USD/M tok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("b300"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(svg));
  r = lockstep::testing::run_lockstep({"plan", "--scenario", "no-such-scenario"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no-such-scenario"), std::string::npos) << r.err;
  ::unsetenv("LOCKSTEP_CACHE_DIR");
}

}  // namespace
}  // namespace lockstep::plan
