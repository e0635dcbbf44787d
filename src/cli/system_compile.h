// `lockstep compile` on a multi-chip system preset: the model lowered as one SystemProgram
// (lpu/system_lowering.h) and its predicted per-user decode speed and time to first token.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "lpu/arch/system_config.h"
#include "compiler/pipeline_speed.h"
#include "compiler/system_lowering.h"
#include "model/model.h"

namespace lockstep::cli {

struct SystemCompileOptions {
  compiler::PrecisionPolicy weights = compiler::WeightPrecision::Int8;
  std::int64_t context = 0;      // tokens
  std::int64_t prompt = 550;     // prompt tokens for the time to first token
  compiler::PartitionRequest request;
  std::vector<std::int64_t> batches;  // sequences per group for the batch x pipeline table
  int threads = 0;               // threads that schedule chip programs (0: one per core)
};

// SystemDecode's progress callback: "scheduling stage s/S (N distinct chip programs)" on stderr,
// rewritten in place on a terminal; in a log, only the final line, if `log_final_line`.
std::function<void(int, int, std::size_t)> scheduling_progress(std::string indent, bool log_final_line);

// Compiles, prints the plan and the predictions, and returns the system decode program.
compiler::SystemDecode compile_system(const model::ModelConfig& config, const model::Model* model,
                                 const lpu::SystemConfig& system, const SystemCompileOptions& options);

}  // namespace lockstep::cli
