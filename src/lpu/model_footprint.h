// How much of a chip's SRAM a model takes under a precision policy, in whole 320-byte vectors
// laid out as the LPU lowering lays them (matrix rows cut into K chunks, KV cache per head), and
// so how many chips it needs. The capacity check of the compiler's placement pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "lpu/system_config.h"
#include "model/model_config.h"

namespace lockstep::lpu {

struct FootprintLine {
  std::string what;        // "matmul weights", "KV cache (ctx 4096)", ...
  std::uint64_t vectors = 0;
  std::uint64_t bytes = 0; // vectors * vector_bytes
};

struct ModelFootprint {
  std::vector<FootprintLine> lines;
  std::uint64_t total_bytes = 0;
  std::uint64_t chip_bytes = 0;  // SRAM of one chip
  std::int64_t chips_needed = 0; // ceil(total / chip), at least 1
  double fraction_of_chip() const { return chip_bytes ? double(total_bytes) / chip_bytes : 0; }
};

ModelFootprint model_footprint(const model::ModelConfig& config, const ChipConfig& chip,
                               compiler::WeightPrecision weights, std::int64_t context);

}  // namespace lockstep::lpu
