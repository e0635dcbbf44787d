// Partitioning a model across chips: pipeline parallel (contiguous groups of layers on
// successive stages) times tensor parallel (each layer of a stage split across the P chips of
// one node), sized so every chip holds its weights, its share of the KV cache for the requested
// context, and its working space in SRAM. Sizes come from model_footprint.h's model_parts().
//
// A plan has S stages of P chips each: chips = S x P. Within a stage every chip holds 1/P of
// each of the stage's layers (query heads, key/value heads and FFN columns split P ways; the
// norms replicated; a key/value head replicated when P exceeds their count). The token
// embedding rides on the first stage and the LM head (with the output norm) on the last, each
// with its vocabulary rows split over the stage's P chips. When either does not fit beside a
// layer, it gets its own stage(s) holding no layer, its vocabulary rows split over all of their
// chips (k stages x P chips); such stages count in S.
//
// Fitting: a chip's plan fits when weights + KV cache + norms + activations <= its SRAM less
// kPartitionHeadroom (kept free for temporaries, program buffers and placement fragmentation).
//
// Automatic policy (no forced S or P): for each P in 1, 2, 4, 8 (P <= the query heads), the
// fewest stages that fit; of these, the plan with the fewest chips, and on a tie the smaller P.
// Smaller P wins ties because a tensor-parallel split costs an all-reduce in every layer, while
// a pipeline stage costs one hop per group of layers. Layers are balanced: every stage holds
// at most one layer more than another, except that a first or last stage that also holds the
// embedding or LM head may hold fewer.
//
// Forcing: request.stages and/or request.tensor_parallel fix S and/or P (the other is chosen as
// above); a forced plan that does not fit, or a plan above request.max_chips, is a
// lockstep::Error of one sentence saying what would fit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "lpu/arch/system_config.h"
#include "model/model_config.h"

namespace lockstep::lpu {

// Fraction of each chip's SRAM the planner leaves unassigned.
inline constexpr double kPartitionHeadroom = 0.10;
// The chips of one node (FACTS.md: 8 chips, all-to-all): the tensor-parallel degrees allowed.
inline constexpr int kMaxTensorParallel = 8;

struct PartitionRequest {
  int stages = 0;              // pipeline stages S to force; 0 = choose
  int tensor_parallel = 0;     // tensor-parallel degree P to force (1, 2, 4 or 8); 0 = choose
  std::int64_t max_chips = 0;  // upper bound on S x P; 0 = no limit
};

// One pipeline stage; every byte figure is per chip of the stage (all P chips hold the same).
struct StagePlan {
  int first_layer = 0;
  int layer_count = 0;              // 0 for a stage holding only embedding or LM head rows
  std::uint64_t embedding_rows = 0; // token-embedding rows per chip (0: none here)
  std::uint64_t head_rows = 0;      // LM-head output rows per chip (0: none here)
  std::uint64_t weight_bytes = 0;   // matmul weights, embedding and LM head, bytes
  std::uint64_t kv_bytes = 0;       // KV cache for the context, bytes
  std::uint64_t other_bytes = 0;    // norms, biases and activations, bytes
  std::uint64_t total_bytes() const { return weight_bytes + kv_bytes + other_bytes; }
};

struct PartitionPlan {
  int stages = 1;                  // S
  int tensor_parallel = 1;         // P
  std::int64_t chips = 1;          // S x P
  std::int64_t context = 0;        // tokens the KV cache holds
  std::uint64_t chip_bytes = 0;    // SRAM of one chip, bytes
  std::uint64_t budget_bytes = 0;  // chip_bytes less kPartitionHeadroom, bytes
  std::uint64_t layer_bytes = 0;   // one whole layer (weights, norms, KV cache), bytes
  std::vector<StagePlan> stage_plans;  // S entries, in pipeline order
  std::string reason;              // why this many chips, for people
  double fraction_of_chip(const StagePlan& s) const {
    return chip_bytes ? double(s.total_bytes()) / double(chip_bytes) : 0;
  }
};

PartitionPlan plan_partition(const model::ModelConfig& config, const ChipConfig& chip,
                             compiler::WeightPrecision weights, std::int64_t context,
                             const PartitionRequest& request = {});

}  // namespace lockstep::lpu
