// One decode step (or prefill chunk) of a model lowered onto a system of chips: S pipeline
// stages of P chips each (tensor parallel inside a node), every chip-to-chip transfer a
// scheduled Send / Receive (decode_lowering.h's StageSpec), and the whole run one SystemProgram
// on the system's clock (system_program.h).
//
// Partition: the units (the embedding in E parts, then every layer's attention and its FFN in K
// column groups), the stages S and the tensor-parallel degree P are partition_planner.h's: by
// default every active chip of the system, so that a 70B model spreads over exactly the
// system's 576 chips. When a stage's real placement does not fit, the plan is made again
// counting on less of each chip (PartitionRequest::fill 0.9, 0.8, 0.7).
//
// Placement: every stage on P chips of one node (all-to-all local links carry the all-reduce);
// consecutive stages joined by one direct link, from the egress chip of stage s to the ingress
// chip of stage s + 1, which forwards the residual stream to its peers. Stages fill nodes in an
// order found by a depth-first search over the nodes' global links.
//
// Time: stage 0 starts at system cycle 0; stage s + 1 starts when the first vector of x sent by
// stage s arrives (a link between synchronous domains adds the Ethernet latency's fixed part,
// topology.h), so its program's cycle 0 is that arrival and every stage of one shape has the
// same program. A chip's program depends on its stage's shape and its role (ingress, egress,
// other), not on its rank: ranks differ in their weights only (ChipAssignment::memory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compiler/decode_lowering.h"
#include "compiler/partition_planner.h"
#include "lpu/arch/system_config.h"
#include "lpu/program/system_program.h"

namespace lockstep::core {
class ThreadPool;
}

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

class SystemDecode {
 public:
  // With `model`, every chip's memory image holds its shard of the weights (functional runs).
  // progress(stages compiled, stages, distinct programs so far) after every stage. A stage's
  // distinct chip programs compile in parallel on `threads` threads (0: one per core).
  SystemDecode(const model::ModelConfig& config, const model::Model* model, const SystemConfig& system,
               const DecodeOptions& options, const PartitionRequest& request = {},
               const std::function<void(int, int, std::size_t)>& progress = {}, int threads = 0);

  const SystemProgram& program() const { return program_; }
  // The partition it was compiled with (the last plan tried, at the fill that placed).
  const PartitionPlan& plan() const { return plan_; }
  const std::vector<StageInfo>& stages() const { return stages_; }
  int tensor_parallel() const { return tp_; }
  int ffn_parts() const { return ffn_parts_; }  // K: units per layer are 1 + K
  int embedding_parts() const { return embedding_parts_; }  // E: units before the first layer
  std::uint32_t rows() const { return rows_; }
  std::int64_t context() const { return context_; }
  // System cycles of one run: from the first stage's start to the last stage's end.
  std::uint64_t cycles() const { return program_.predicted_cycles; }
  // Distinct chip programs compiled (the rest are copies).
  std::size_t distinct_programs() const { return program_.programs.size(); }

  // The host side of a run (tokens in, logits out) is in program(): every chip's program
  // records its buffers' roles and each ChipAssignment its shard (lpu/program/host_interface.h).

 private:
  // Plans and compiles, counting on `fill` of each chip's capacities.
  void build(const model::Model* model, const SystemConfig& system, const DecodeOptions& options,
             const PartitionRequest& request, const std::function<void(int, int, std::size_t)>& progress,
             double fill, core::ThreadPool& pool);

  model::ModelConfig config_;
  ChipConfig chip_;
  SystemProgram program_;
  PartitionPlan plan_;
  struct CompiledFacts {  // [program] what its compilation said beyond the program
    std::vector<std::uint64_t> output_sends;  // kChannelOutput issue cycles
    std::uint64_t sram_bytes = 0;
    std::int64_t vocab_rows = 0;
  };
  std::vector<CompiledFacts> compiled_;
  std::vector<StageInfo> stages_;
  int tp_ = 1;
  int ffn_parts_ = 1;
  int embedding_parts_ = 1;
  std::uint32_t rows_ = 1;
  std::int64_t context_ = 0;
};

}  // namespace lockstep::compiler
