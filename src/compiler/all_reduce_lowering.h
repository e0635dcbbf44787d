// The tensor-parallel all-reduce on a node of chips, and the collective microbenchmark built on
// it (`lockstep compile --all-reduce BYTES --system S`).
//
// Butterfly: at step s (s < log2 P) every rank swaps its running sum with rank ^ 2^s over C2C
// channel kChannelButterfly + s and adds. Both partners add the same two vectors (a + b == b + a
// exactly), so every rank ends with the same bits, and every rank runs the same program, so a
// partner's sends leave when its own do. Each vector goes through all the steps on its own, so
// that the steps' links carry different vectors at once instead of one after another (a 33 kB
// all-reduce on 8 chips: 4,465 cycles in chunks of 8 vectors, 3,795 in 2, 3,569 one by one).
// Payloads are fp32 (80 lanes a vector).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "compiler/decode_lowering.h"
#include "compiler/vector_builder.h"
#include "lpu/arch/system_config.h"
#include "lpu/arch/topology.h"
#include "lpu/program/system_program.h"

namespace lockstep::compiler {

// A tensor as stripes: (first vector, vectors) per MEM slice, consecutive addresses each.
using Stripes = std::vector<std::pair<VecRef, std::uint32_t>>;

// Lowers the all-reduce of `mine` (this rank's partial sums) over `ranks` chips (a power of two)
// into `out` (the same stripe shapes); `near` are tensors its temporaries keep clear of (out's
// own placement at least). ranks == 1 lowers nothing.
void lower_butterfly_all_reduce(VectorBuilder& vb, int ranks, const LinkCycles& link, const Stripes& mine,
                                const Stripes& out, const std::vector<const VTensor*>& near,
                                const std::string& name);

// The link of chip `from` that goes straight to chip `to` (lockstep::Error when none does).
int direct_link(const Topology& topology, int from, int to);

// Maps chip `rank`'s butterfly channels (kChannelButterfly + s) onto its links to rank ^ 2^s, for
// `ranks` chips numbered as their topology ids.
void map_butterfly_channels(const Topology& topology, int rank, int ranks, ChipAssignment& chip);

// One all-reduce of `bytes` (rounded up to whole fp32 vectors) over the first `ranks` chips of
// node 0 of `system`, as a SystemProgram every rank runs the same program of: the input is a
// host buffer "input" striped over 4 slices, the result the host buffer "output".
class AllReduceProgram {
 public:
  AllReduceProgram(const SystemConfig& system, std::int64_t bytes, int ranks);

  const SystemProgram& program() const { return program_; }
  std::uint32_t vectors() const { return vectors_; }   // fp32 vectors reduced
  std::int64_t bytes() const { return bytes_; }         // vectors x vector bytes
  int ranks() const { return ranks_; }
  std::uint64_t cycles() const { return program_.predicted_cycles; }

 private:
  SystemProgram program_;
  std::uint32_t vectors_ = 0;
  std::int64_t bytes_ = 0;
  int ranks_ = 0;
};

}  // namespace lockstep::compiler
