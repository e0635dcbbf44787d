// The one partition planner: how a model is cut over chips, and so how many chips it takes, for
// every user of that number (`lockstep compile`, `lockstep plan`'s sizing and LPU speed,
// SystemDecode, the runtime's system backend). One chip count per (model, system, precision,
// context, request), with the reason.
//
// Units. The model is E + (1 + K) x n_layer units: the token embedding in E vocabulary row
// ranges, then every layer as its attention and its FFN in K column groups. The units are cut
// into S contiguous stages of P chips each (chips = S x P): within a stage every chip holds 1/P
// of each unit (tensor parallel inside a node: query heads, key/value heads and FFN columns
// split P ways); the first stage also holds the embedding, the last the LM head and output norm.
// Sizes come from model_footprint.h's model_parts().
//
// Fitting. A chip's load is the larger of (MXM weights / the MXM-feeding slices' vectors, less
// 10% for whole blocks) and (everything / its SRAM less kSramHeadroom); a stage fits when its
// load <= 1. The cuts minimise the largest load (bisection on the bound, greedy fill), then
// spread the units as evenly as that bound allows. K: the fewest of 1, 2, 4 whose balanced
// stages fit. E: doubled (up to 8) while one stage's share of the embedding takes more than 60%
// of a chip. These are estimates of the placement; SystemDecode plans again with `fill` < 1 when
// a stage's real placement does not fit.
//
// Stages S (unless forced):
//  - a chip preset (a system of one chip, e.g. lpu-v1: "how many of these chips"): the fewest
//    stages that fit, for each P in 1, 2, 4, 8 dividing the query heads; the fewest chips wins,
//    on a tie the smaller P (a tensor-parallel split costs an all-reduce in every layer, a stage
//    one hop per group of units). What binds: the SRAM per chip.
//  - a system of chips (groq-node, groq-576, ...): P = its node's chips (at most 8, halved until
//    the query heads split evenly); S = every active chip (active / P stages), at most one stage
//    per unit. What binds: the system's chip count (or the model's units). With
//    request.fewest, the fewest stages that fit instead, at most the system's.
// A forced S or P on a chip preset that does not fit, a model that fits no partition there, and
// a system too small for the model under `fewest` are a lockstep::Error of one sentence saying
// what would fit. On a system a forced or whole-system plan whose estimate exceeds a chip is
// still returned (its reason says so): the compiler's placement decides.
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

// Fraction of each chip's SRAM the planner leaves unassigned (temporaries, program buffers,
// placement fragmentation).
inline constexpr double kSramHeadroom = 1.5 * 0.10;  // 0.15, as the compiler always computed it
// The chips of one node (FACTS.md: 8 chips, all-to-all): the largest tensor-parallel degree.
inline constexpr int kMaxTensorParallel = 8;

struct PartitionRequest {
  PartitionRequest(int stages_ = 0, int tensor_parallel_ = 0)  // NOLINT: {S, P} reads well
      : stages(stages_), tensor_parallel(tensor_parallel_) {}
  int stages = 0;           // S to force; 0 = chosen (see above)
  int tensor_parallel = 0;  // P to force; 0 = chosen
  int embedding_parts = 0;  // E to force; 0 = chosen
  int ffn_parts = 0;        // K to force (1, 2 or 4); 0 = chosen
  std::vector<int> first_units;  // forced cuts: the first unit of every stage (S entries, from
                                 // 0, increasing); empty = balanced
  bool fewest = false;      // on a system of chips: the fewest stages that fit, not all chips
  double fill = 1.0;        // fraction of each chip's capacities counted on (0 < fill <= 1)
};

// One pipeline stage; every figure is per chip of the stage (all P chips hold the same share).
struct StagePlan {
  int first_unit = 0, end_unit = 0;  // units [first, end), numbered from the embedding's
  bool embedding = false;            // holds (some of) the embedding's E units
  bool head = false;                 // holds the LM head and the output norm (the last stage)
  std::uint64_t weight_bytes = 0;    // MXM weights (layers' matmuls, LM head), bytes
  std::uint64_t total_bytes = 0;     // everything: weights, embedding, KV cache, norms, bytes
  double load = 0;                   // max(weights / weight capacity, total / SRAM capacity)
};

struct PartitionPlan {
  int stages = 1;                  // S
  int tensor_parallel = 1;         // P
  std::int64_t chips = 1;          // S x P
  int embedding_parts = 1;         // E
  int ffn_parts = 1;               // K: units per layer are 1 + K
  int units = 0;                   // E + (1 + K) x n_layer
  std::int64_t context = 0;        // tokens the KV cache holds
  std::int64_t fewest_chips = 0;   // the fewest chips that fit with this P (0: none fits)
  std::uint64_t chip_bytes = 0;    // SRAM of one chip, bytes
  double load = 0;                 // the fullest stage's load (<= 1: the estimate fits)
  std::string binds;               // what sets the count: "SRAM per chip", "the system's chip
                                   // count", "the model's units", "forced"
  std::vector<StagePlan> stage_plans;  // S entries, in pipeline order
  std::string reason;              // why this many chips, one paragraph for people

  std::vector<int> first_units() const;  // [S] each stage's first unit
  double fraction_of_chip(const StagePlan& s) const {
    return chip_bytes ? double(s.total_bytes) / double(chip_bytes) : 0;
  }
};

// The plan for `config` on `system` (its chip, and its topology when it has several chips).
// context: tokens of KV cache (>= 1).
PartitionPlan plan_partition(const model::ModelConfig& config, const SystemConfig& system,
                             const compiler::PrecisionPolicy& weights, std::int64_t context,
                             const PartitionRequest& request = {});

}  // namespace lockstep::compiler
