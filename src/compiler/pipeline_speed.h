// What a compiled system's programs imply for its users: per-user decode speed, time to first
// token, and the batch x pipeline trade-off. The cycles come from the compiled (and simulated)
// stage programs; only the composition of stages over time is arithmetic, stated below.
#pragma once

#include <cstdint>
#include <vector>

#include "lpu/arch/system_config.h"
#include "compiler/system_lowering.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// Per-user decode tokens/s and time to first token (s) of a compiled system: a step takes
// cycles() on the system clock; a prompt of N tokens enters the pipeline in chunks of the
// program's rows() tokens, one chunk per stage period (the slowest stage's cycles), so its last
// chunk leaves after (ceil(N / rows) - 1) periods plus one step's latency. (For rows > 1 the
// tokens/s figure is per row of a batched step.)
struct SystemSpeed {
  double token_seconds = 0;
  double tokens_per_s = 0;
  double stage_period_seconds = 0;
  double ttft_seconds = 0;
};
SystemSpeed system_speed(const SystemDecode& decode, const SystemConfig& system,
                         std::int64_t prompt);

// Batch x pipeline: G groups of B sequences share the S stages, each stage working on one
// group at a time. A token of a group takes L = the system's cycles for a B-row step; a stage
// serves every group once per round, so a group's next token starts after max(L, G x period)
// (period: the slowest stage's B-row program). Per user: 1 / max(L, G x period) tokens/s; per
// system: G x B times that. A B-row step is timed as the compiler's B-token chunk, which streams
// every weight once for B rows and attends per row over the window, as B sequences would.
struct BatchPoint {
  std::int64_t batch = 1, groups = 1;
  double per_user = 0, per_system = 0;  // tokens/s
  double latency_s = 0;                 // one token of one group
};
std::vector<BatchPoint> batch_pipeline(const SystemDecode& step, const SystemConfig& system,
                                       std::int64_t batch);
// The same from the figures alone: a B-row step of step_cycles over `stages` stages whose
// slowest takes period_cycles, at clock_hz.
std::vector<BatchPoint> batch_pipeline(std::uint64_t step_cycles, std::uint64_t period_cycles,
                                       std::int64_t stages, double clock_hz, std::int64_t batch);

}  // namespace lockstep::compiler
