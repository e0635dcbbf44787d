// How much of a chip's SRAM a model takes under a precision policy, in whole 320-byte vectors
// laid out as the LPU lowering lays them (matrix rows cut into K chunks, KV cache per head), and
// so how many chips it needs. The capacity check of the compiler's placement pass.
//
// Every size comes from model_parts() (one layer, the embedding, the LM head, ...), which both
// the one-chip total (model_footprint) and the multi-chip partition (partition_planner.h) read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "lpu/arch/system_config.h"
#include "model/model_config.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// The vectors (of chip.vector_bytes) one chip holds of each part of a model when every layer is
// split `ways` ways by tensor parallelism: query heads, key/value heads and FFN columns are
// divided (ceil) among the `ways` chips; each chip keeps the whole residual-width norms; a
// key/value head shared by more chips than there are heads is replicated. ways = 1 is the
// whole model on one chip. Sizes per chip, in vectors.
struct ModelParts {
  std::uint64_t layer_weights = 0;  // one layer's matmul weights (q, k, v, o, gate, up, down)
  std::uint64_t layer_norms = 0;    // one layer's norms and biases (fp32)
  std::uint64_t layer_kv = 0;       // one layer's KV cache for the context (vectors)
  std::uint64_t final_norm = 0;     // the output norm (fp32), beside the LM head
  std::uint64_t activations = 0;    // one decode step's working rows and logits (fp32)
  std::uint64_t layer() const { return layer_weights + layer_norms + layer_kv; }
};
ModelParts model_parts(const model::ModelConfig& config, const ChipConfig& chip,
                       const compiler::PrecisionPolicy& weights, std::int64_t context, int ways = 1);

// The LM head's vectors for `vocab_rows` of its output rows (n_vocab for the whole head), in the
// MXM layout of `weights` (int8 rows carry fp32 scales).
std::uint64_t lm_head_vectors(const model::ModelConfig& config, const ChipConfig& chip,
                              const compiler::PrecisionPolicy& weights, std::uint64_t vocab_rows);
// The token embedding's vectors for `vocab_rows` fp16 rows (n_vocab for the whole table).
std::uint64_t embedding_vectors(const model::ModelConfig& config, const ChipConfig& chip,
                                std::uint64_t vocab_rows);

struct FootprintLine {
  std::string what;        // "matmul weights", "KV cache (ctx 4096)", ...
  std::uint64_t vectors = 0;
  std::uint64_t bytes = 0; // vectors * vector_bytes
};

struct ModelFootprint {
  std::vector<FootprintLine> lines;
  std::uint64_t total_bytes = 0;
  std::uint64_t chip_bytes = 0;  // SRAM of one chip
  std::int64_t chips_needed = 0; // ceil(total / chip), at least 1: a lower bound (partition_planner.h)
  double fraction_of_chip() const { return chip_bytes ? double(total_bytes) / chip_bytes : 0; }
};

ModelFootprint model_footprint(const model::ModelConfig& config, const ChipConfig& chip,
                               const compiler::PrecisionPolicy& weights, std::int64_t context);

}  // namespace lockstep::compiler
