// `lockstep compile` on a multi-chip system preset: the model lowered as one SystemProgram
// (lpu/system_lowering.h) and its predicted per-user decode speed and time to first token.
#pragma once

#include <cstdint>
#include <string>

#include "compiler/precision.h"
#include "lpu/system_config.h"
#include "lpu/system_lowering.h"
#include "model/model.h"

namespace lockstep::cli {

struct SystemCompileOptions {
  compiler::WeightPrecision weights = compiler::WeightPrecision::Int8;
  std::int64_t context = 0;      // tokens
  std::int64_t prompt = 550;     // prompt tokens for the time to first token
  lpu::SystemRequest request;
};

// Compiles, prints the plan and the predictions, and returns the system decode program.
lpu::SystemDecode compile_system(const model::ModelConfig& config, const model::Model* model,
                                 const lpu::SystemConfig& system, const SystemCompileOptions& options);

// Per-user decode tokens/s and time to first token (s) of a compiled system: a token takes
// cycles() on the system clock; a prompt of N tokens enters the pipeline one token per stage
// period (the slowest stage's cycles), so its last token leaves after (N - 1) periods plus one
// token's latency.
struct SystemSpeed {
  double token_seconds = 0;
  double tokens_per_s = 0;
  double stage_period_seconds = 0;
  double ttft_seconds = 0;
};
SystemSpeed system_speed(const lpu::SystemDecode& decode, const lpu::SystemConfig& system,
                         std::int64_t prompt);

}  // namespace lockstep::cli
