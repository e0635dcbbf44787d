// The simulator of a system of chips running a SystemProgram (system_program.h): every chip runs
// its program on a Chip (simulator.h), from its start cycle on the system's one clock, and the
// system carries the vectors of C2C Send / Receive between them over the topology's links
// (topology.h). docs/lpu.md ("Chip to chip") explains the model.
//
// Time: chip program cycle c is system cycle start_cycle + c. A Send at system cycle t on a
// channel mapped to link l of chip A occupies direction A -> peer of l for
// link_occupancy_cycles(vector_bytes) cycles from t, and its vector arrives at the peer end
// (Topology::peer) at t + link_transfer_cycles(vector_bytes). Each direction of a link is
// independent (full duplex). A Receive at system cycle t takes the earliest vector that arrived
// on its link at or before t (first in, first out per link direction).
//
// Link rules, checked in both modes; each violation is a MachineRuleViolation naming the chips,
// the link, the channels and the cycles:
//   (a) two Sends on one direction of one link overlap (the second departs before the first's
//       occupancy ends): this also catches two channels mapped onto one link;
//   (b) a Receive finds no vector that has arrived on its link by its cycle;
//   (c) at the end of the run, a vector sent was never received;
//   (d) a channel a C2C instruction uses is unmapped (kUnmappedChannel), maps to a link the
//       chip does not have, or to an unwired link (checked before the first cycle).
//
// Functional mode runs every chip, all together, in windows of W = link_transfer_cycles system
// cycles: whatever is sent in a window arrives after it, so a chip never needs a vector another
// chip sends later in the same window (conservative lock-step simulation; the result does not
// depend on the window). Timing mode simulates each distinct program once, recording its Send
// and Receive iterations, then replays every chip's events (shifted by its start cycle, its
// channels mapped to its links) through the same link rules: identical chips are simulated once,
// and the result equals running every chip (run_every_chip does that, e.g. to check it).
//
// Synchronous domains (the determinism cliff, docs/lpu.md). A link whose ends are in different
// domains (Topology::domain) is Ethernet: a vector crossing it arrives link_transfer_cycles +
// ethernet_latency_cycles after its Send (the deterministic part, which a compiler schedules for),
// plus, in a run given a DomainJitter, that draw's jitter. The jitter model: every link the system
// program maps across a boundary is drawn once per run (Topology::sample_ethernet_jitter_ns, ns
// rounded up to cycles), and applies to every vector sent on it from the upstream domain (the one
// whose chips start first) to the downstream one. A domain cannot start before its inputs arrive,
// so every chip of a downstream domain starts late by the largest (upstream domain's delay + the
// link's jitter) over the links that feed it: all the chips of a domain shift together, so a
// domain stays cycle-exact inside, and the link rules hold as before. Vectors sent back upstream
// pay the deterministic part only (the model covers pipelines that cross domains one way).
// Without a DomainJitter a run is deterministic and equals the compiler's prediction.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "lpu/sim/simulator.h"
#include "lpu/arch/system_config.h"
#include "lpu/program/system_program.h"
#include "lpu/arch/topology.h"
#include "lpu/sim/trace_sink.h"

namespace lockstep::lpu {

struct SystemResult {
  std::uint64_t cycles = 0;              // system cycles: max over chips of start + run length
  std::vector<SimulationResult> chips;   // [chip assignment] each chip's run
  std::uint64_t transfers = 0;           // vectors sent over links
  std::uint64_t link_busy_cycles = 0;    // sum over transfers of their occupancy, cycles
  std::uint64_t links_used = 0;          // link directions that carried at least one vector
  friend bool operator==(const SystemResult&, const SystemResult&) = default;
};

// One run's Ethernet jitter (see the header comment).
struct DomainJitter {
  // [(chip, link) of the upstream end of a link across domains] extra cycles of every vector it
  // carries downstream.
  std::map<std::pair<int, int>, std::int64_t> link_cycles;
  // [chip assignment] cycles its start is delayed (0 in the first domain).
  std::vector<std::int64_t> start_delay;
};

// Functional runs: loads into chips[i] the memory of SystemProgram::chips[i]'s program, then
// the assignment's own segments (so they override the shared image).
void load_system_memory(const SystemProgram& program, const std::vector<Chip*>& chips);

class SystemSimulator {
 public:
  explicit SystemSimulator(const SystemConfig& system);

  const Topology& topology() const { return topology_; }
  std::int64_t occupancy_cycles() const { return occupancy_; }  // per vector, per link
  std::int64_t transfer_cycles() const { return transfer_; }    // departure to arrival, in a domain
  // Departure to arrival over `link` of `chip`: transfer_cycles, plus the Ethernet latency when
  // its peer is in another synchronous domain (jitter excluded).
  std::int64_t transfer_cycles(int chip, int link) const;

  // Runs `program` on `chips` (one per ChipAssignment, same order; the caller owns them, so
  // MEM, e.g. a KV cache, persists between runs). traces: empty, or one per chip (nullptr
  // allowed); a timing run with traces runs every chip. Throws MachineRuleViolation at the
  // first rule broken (a chip's or a link's), lockstep::Error for a malformed system program or
  // a prediction mismatch (SystemProgram::predicted_cycles, when nonzero).
  // jitter: nullptr for a deterministic run, or a seeded source the run draws its DomainJitter
  // from (draw_jitter); SystemResult::cycles then includes the delays.
  SystemResult run(const SystemProgram& program, SimulationMode mode,
                   const std::vector<Chip*>& chips, const std::vector<TraceSink*>& traces = {},
                   std::mt19937_64* jitter = nullptr);
  // As run, with the given delays (e.g. one drawn, then altered to test the link rules).
  SystemResult run_jittered(const SystemProgram& program, SimulationMode mode,
                            const std::vector<Chip*>& chips, const DomainJitter& jitter,
                            const std::vector<TraceSink*>& traces = {});
  // One run's jitter for `program`: zero (and no links) when it stays inside one domain.
  DomainJitter draw_jitter(const SystemProgram& program, std::mt19937_64& rng) const;
  // As run, but always simulates every chip in lock-step (the functional path, in either mode).
  SystemResult run_every_chip(const SystemProgram& program, SimulationMode mode,
                              const std::vector<Chip*>& chips,
                              const std::vector<TraceSink*>& traces = {});

 private:
  void check(const SystemProgram& program, const std::vector<Chip*>& chips,
             const std::vector<TraceSink*>& traces,
             std::vector<DecodedProgram>& decoded) const;
  SystemResult run_once_per_program(const SystemProgram& program,
                                    const std::vector<Chip*>& chips,
                                    const std::vector<DecodedProgram>& decoded,
                                    const DomainJitter* jitter);
  SystemResult run_lock_step(const SystemProgram& program, SimulationMode mode,
                             const std::vector<Chip*>& chips,
                             const std::vector<TraceSink*>& traces,
                             const std::vector<DecodedProgram>& decoded,
                             const DomainJitter* jitter);

  SystemConfig system_;
  Topology topology_;
  std::int64_t occupancy_;  // link_occupancy_cycles(vector_bytes)
  std::int64_t transfer_;   // link_transfer_cycles(vector_bytes)
  std::int64_t ethernet_;   // ethernet_latency_cycles, added across domains
};

}  // namespace lockstep::lpu
