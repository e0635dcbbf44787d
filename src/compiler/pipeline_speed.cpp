#include "compiler/pipeline_speed.h"

#include <algorithm>

namespace lockstep::compiler {

SystemSpeed system_speed(const SystemDecode& decode, const SystemConfig& system,
                         std::int64_t prompt) {
  SystemSpeed s;
  const double hz = system.chip.clock_hz;
  s.token_seconds = static_cast<double>(decode.cycles()) / hz;
  s.tokens_per_s = 1.0 / s.token_seconds;
  std::uint64_t period = 0;
  for (const auto& stage : decode.stages()) period = std::max(period, stage.cycles);
  s.stage_period_seconds = static_cast<double>(period) / hz;
  const std::int64_t rows = decode.rows();
  const std::int64_t chunks = (std::max<std::int64_t>(prompt, 1) + rows - 1) / rows;
  s.ttft_seconds = static_cast<double>(chunks - 1) * s.stage_period_seconds + s.token_seconds;
  return s;
}

std::vector<BatchPoint> batch_pipeline(const SystemDecode& step, const SystemConfig& system,
                                       std::int64_t batch) {
  std::uint64_t period_cycles = 0;
  for (const auto& stage : step.stages()) period_cycles = std::max(period_cycles, stage.cycles);
  return batch_pipeline(step.cycles(), period_cycles, static_cast<std::int64_t>(step.stages().size()),
                        system.chip.clock_hz, batch);
}

std::vector<BatchPoint> batch_pipeline(std::uint64_t step_cycles, std::uint64_t period_cycles,
                                       std::int64_t stages, double clock_hz, std::int64_t batch) {
  const double latency = static_cast<double>(step_cycles) / clock_hz;
  const double period = static_cast<double>(period_cycles) / clock_hz;
  const std::int64_t S = stages;
  std::vector<BatchPoint> points;
  for (std::int64_t groups = 1; groups <= S; groups = groups < S && groups * 2 > S ? S : groups * 2) {
    BatchPoint p;
    p.batch = batch;
    p.groups = groups;
    p.latency_s = latency;
    p.per_user = 1.0 / std::max(latency, static_cast<double>(groups) * period);
    p.per_system = static_cast<double>(groups * batch) * p.per_user;
    points.push_back(p);
    if (groups == S) break;
  }
  return points;
}

}  // namespace lockstep::compiler
