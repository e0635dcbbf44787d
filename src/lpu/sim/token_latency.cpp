#include "lpu/sim/token_latency.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"

namespace lockstep::lpu {

std::uint64_t TokenLatencies::percentile(double p) const {
  if (cycles.empty()) fail("no token was simulated, so it has no latency percentile");
  if (!(p > 0 && p <= 100)) fail("a percentile must be in (0, 100], not {}", p);
  std::vector<std::uint64_t> sorted = cycles;
  std::sort(sorted.begin(), sorted.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

TokenLatencies simulate_tokens(SystemSimulator& simulator, const SystemProgram& program,
                               const std::vector<Chip*>& chips, int tokens,
                               std::mt19937_64* jitter) {
  if (tokens < 1) fail("simulate at least one token, not {}", tokens);
  TokenLatencies out;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < tokens; ++t) {
    const SystemResult r = simulator.run(program, SimulationMode::Timing, chips, {}, jitter);
    out.cycles.push_back(r.cycles);
    out.transfers = r.transfers;
    out.link_busy_cycles = r.link_busy_cycles;
    out.links_used = r.links_used;
  }
  out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace lockstep::lpu
