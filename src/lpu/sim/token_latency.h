// Per-token latency of a system decoding many tokens: every decode step runs the same system
// program (attention over the whole KV window, so every step takes the same cycles on one
// domain), each step one SystemSimulator run in timing mode with its own Ethernet jitter draw
// (system_simulator.h). Inside one synchronous domain every token takes the same cycles; across
// domains the jitter spreads them (the determinism cliff, docs/lpu.md).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "lpu/sim/simulator.h"
#include "lpu/program/system_program.h"
#include "lpu/sim/system_simulator.h"

namespace lockstep::lpu {

struct TokenLatencies {
  std::vector<std::uint64_t> cycles;  // [token] system cycles of its step, Ethernet delays included
  std::uint64_t transfers = 0;        // vectors over links in one step (every step the same)
  std::uint64_t link_busy_cycles = 0; // sum of their link occupancy in one step, cycles
  std::uint64_t links_used = 0;       // link directions carrying them
  double wall_seconds = 0;            // wall-clock time simulating every step
  // Nearest-rank percentile of cycles, p in (0, 100]: percentile(50) is P50, percentile(100) max.
  std::uint64_t percentile(double p) const;
};

// Runs `program` `tokens` times on `chips` (timing mode, as SystemSimulator::run), each run with
// a jitter draw from `jitter` (nullptr: every run deterministic). Throws as run does.
TokenLatencies simulate_tokens(SystemSimulator& simulator, const SystemProgram& program,
                               const std::vector<Chip*>& chips, int tokens,
                               std::mt19937_64* jitter);

}  // namespace lockstep::lpu
