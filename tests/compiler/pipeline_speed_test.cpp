// The multi-chip figures `lockstep compile` prints on a system: the batch x pipeline table's
// laws (one group gets the single-step speed; more groups never slow the system down or speed a
// user up) on a compiled system, and the time to first token.
#include "compiler/pipeline_speed.h"

#include <gtest/gtest.h>

#include "lpu/arch/system_config.h"
#include "model/catalog.h"

namespace lockstep::compiler {
namespace {

TEST(PipelineSpeedTest, BatchPipelineLaws) {
  const SystemConfig system = load_system("groq-rack");
  const model::ModelConfig config = model::load_catalog_shape("tiny");
  const SystemDecode step(config, nullptr, system, {compiler::WeightPrecision::Int8, 128, 2}, {4, 2});
  ASSERT_EQ(step.rows(), 2u);
  const double hz = system.chip.clock_hz;
  const std::vector<BatchPoint> points = batch_pipeline(step, system, 2);
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(points.front().groups, 1);
  EXPECT_EQ(points.back().groups, 4);  // one group per stage at most
  EXPECT_DOUBLE_EQ(points.front().per_user, hz / static_cast<double>(step.cycles()));
  for (std::size_t i = 1; i < points.size(); ++i) {
    EXPECT_LE(points[i].per_user, points[i - 1].per_user);
    EXPECT_GE(points[i].per_system, points[i - 1].per_system);
    EXPECT_DOUBLE_EQ(points[i].per_system, points[i].per_user * 2 * static_cast<double>(points[i].groups));
  }
  const SystemSpeed speed = system_speed(step, system, 10);
  EXPECT_NEAR(speed.ttft_seconds, 4 * speed.stage_period_seconds + speed.token_seconds, 1e-12);
}

}  // namespace
}  // namespace lockstep::compiler
