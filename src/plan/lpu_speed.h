// The LPU's speed for the planner: the model compiled onto a system preset by the real compiler
// (compiler::SystemDecode, every chip program scheduled), read as cycles per step and per stage
// period, and turned into per-user and per-system tokens/s for G groups of B sequences
// (lpu/pipeline_speed.h). Compiling a 70B model takes minutes, so results are kept in a cache
// file keyed by everything that decides them, including the lockstep binary itself.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "compiler/pipeline_speed.h"
#include "lpu/arch/system_config.h"
#include "compiler/system_lowering.h"
#include "model/model.h"

namespace lockstep::plan {

struct LpuPrediction {
  std::string system;                // the system preset compiled for
  std::int64_t chips = 0;            // stages x tensor_parallel
  std::int64_t stages = 0;
  int tensor_parallel = 0;
  std::int64_t batch = 1;            // rows per step (B sequences)
  std::int64_t context = 0;          // tokens
  std::uint64_t step_cycles = 0;     // one B-row step through every stage, system cycles
  std::uint64_t period_cycles = 0;   // the slowest stage's program, cycles
  double clock_hz = 0;
  bool from_cache = false;

  double token_seconds() const { return static_cast<double>(step_cycles) / clock_hz; }
  // G = 1, 2, 4, ... S groups of B sequences sharing the pipeline.
  std::vector<compiler::BatchPoint> points() const {
    return compiler::batch_pipeline(step_cycles, period_cycles, stages, clock_hz, batch);
  }
};

// Compiles (or reads from the cache) `config` (catalog name `model_name`) on `system` with B =
// batch rows per step. progress(stage, stages) while compiling. The cache lives in
// $LOCKSTEP_CACHE_DIR, else $XDG_CACHE_HOME/lockstep, else ~/.cache/lockstep (lpu-predictions.json);
// a cache that cannot be read or written is ignored.
// stages: pipeline stages to use (0 = every active chip of the system, as `lockstep compile`).
LpuPrediction predict_lpu(const model::ModelConfig& config, const std::string& model_name,
                          const lpu::SystemConfig& system, const compiler::PrecisionPolicy& weights,
                          std::int64_t context, std::int64_t batch, int stages = 0,
                          const std::function<void(int, int)>& progress = {});

// The prediction of a system already compiled (the demo's), stored in the cache as
// predict_lpu() would store it, so that a plan with the same inputs need not compile again.
LpuPrediction record_lpu_prediction(const compiler::SystemDecode& decode, const model::ModelConfig& config,
                                    const std::string& model_name, const lpu::SystemConfig& system,
                                    const compiler::PrecisionPolicy& weights, std::int64_t context,
                                    std::int64_t batch, int stages = 0);

}  // namespace lockstep::plan
