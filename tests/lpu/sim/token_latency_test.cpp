// The determinism cliff: a small Llama-shaped model (12 units, 12 stages x 8 chips = 12 nodes)
// decoded on groq-576, once as one synchronous domain (the preset) and once with every rack its
// own domain (system.sync_domain_chips = 72), so the pipeline leaves rack 0 over Ethernet. Inside
// one domain every token takes the compiler's cycles; across domains the jitter spreads them, the
// same seed gives the same spread, and a receive the downstream delay no longer covers is refused.
#include "lpu/sim/token_latency.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "lpu/program/machine_rule_violation.h"
#include "compiler/system_lowering.h"

namespace lockstep::lpu {
namespace {

model::ModelConfig twelve_unit_model() {
  model::ModelConfig c;
  c.name = "cliff-test";
  c.n_vocab = 512;
  c.n_embd = 128;
  c.n_layer = 6;
  c.n_head = 8;
  c.n_head_kv = 8;
  c.head_dim = 16;
  c.n_ff = 256;
  c.n_ctx_train = 128;
  return c;
}

// A compiled decode step on a system, with one Chip per assignment.
struct Compiled {
  SystemConfig system;
  std::unique_ptr<compiler::SystemDecode> decode;
  std::vector<std::unique_ptr<Chip>> owned;
  std::vector<Chip*> chips;

  explicit Compiled(const SystemConfig& s) : system(s) {
    decode = std::make_unique<compiler::SystemDecode>(twelve_unit_model(), nullptr, system,
                                            compiler::DecodeOptions{compiler::WeightPrecision::Int8, 128},
                                            compiler::PartitionRequest{12, 8});
    for (std::size_t i = 0; i < decode->program().chips.size(); ++i) {
      owned.push_back(std::make_unique<Chip>(system.chip));
      chips.push_back(owned.back().get());
    }
  }
  int domains() const {
    const Topology topology(system);
    std::set<int> seen;
    for (const auto& chip : decode->program().chips) seen.insert(topology.domain(chip.chip));
    return static_cast<int>(seen.size());
  }
};

const Compiled& one_domain() {
  static const Compiled c(load_system("groq-576"));
  return c;
}
const Compiled& rack_domains() {
  static const Compiled c(load_system("groq-576", {{"system.sync_domain_chips", "72"}}));
  return c;
}

TEST(DeterminismCliff, WithoutJitterEveryRunIsIdentical) {
  const Compiled& c = rack_domains();
  ASSERT_GE(c.domains(), 2);
  SystemSimulator sim(c.system);
  const SystemResult first = sim.run(c.decode->program(), SimulationMode::Timing, c.chips);
  const SystemResult second = sim.run(c.decode->program(), SimulationMode::Timing, c.chips);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first.cycles, c.decode->cycles());
}

TEST(DeterminismCliff, InsideOneDomainEveryTokenTakesTheSameCycles) {
  const Compiled& c = one_domain();
  ASSERT_EQ(c.domains(), 1);
  SystemSimulator sim(c.system);
  std::mt19937_64 rng(7);
  const TokenLatencies t = simulate_tokens(sim, c.decode->program(), c.chips, 20, &rng);
  ASSERT_EQ(t.cycles.size(), 20u);
  EXPECT_EQ(t.percentile(50), c.decode->cycles());
  EXPECT_EQ(t.percentile(50), t.percentile(99));
  EXPECT_EQ(t.percentile(50), t.percentile(100));
  EXPECT_GT(t.transfers, 0u);
}

TEST(DeterminismCliff, AcrossDomainsTheTailSpreadsAndTheSeedRepeatsIt) {
  const Compiled& c = rack_domains();
  SystemSimulator sim(c.system);
  // The Ethernet latency's fixed part is in the schedule: the pipeline takes longer than on one
  // domain by at least one crossing.
  EXPECT_GE(c.decode->cycles(),
            one_domain().decode->cycles() + static_cast<std::uint64_t>(sim.topology().ethernet_latency_cycles()));
  std::mt19937_64 rng(7), again(7), other(8);
  const TokenLatencies t = simulate_tokens(sim, c.decode->program(), c.chips, 20, &rng);
  EXPECT_GT(t.percentile(50), c.decode->cycles());  // every token pays some jitter
  EXPECT_GT(t.percentile(99), t.percentile(50));
  EXPECT_GT(t.percentile(100), t.percentile(50));
  EXPECT_EQ(simulate_tokens(sim, c.decode->program(), c.chips, 20, &again).cycles, t.cycles);
  EXPECT_NE(simulate_tokens(sim, c.decode->program(), c.chips, 20, &other).cycles, t.cycles);
}

TEST(DeterminismCliff, AReceiveTheDownstreamDelayDoesNotCoverIsRefused) {
  const Compiled& c = rack_domains();
  SystemSimulator sim(c.system);
  // The jitter without its delay of the downstream domains: their first receive comes too early.
  std::mt19937_64 rng(7);
  DomainJitter jitter = sim.draw_jitter(c.decode->program(), rng);
  ASSERT_FALSE(jitter.link_cycles.empty());
  EXPECT_NO_THROW(sim.run_jittered(c.decode->program(), SimulationMode::Timing, c.chips, jitter));
  std::fill(jitter.start_delay.begin(), jitter.start_delay.end(), 0);
  try {
    sim.run_jittered(c.decode->program(), SimulationMode::Timing, c.chips, jitter);
    ADD_FAILURE() << "a receive before its vector arrived over Ethernet was accepted";
  } catch (const MachineRuleViolation& e) {
    EXPECT_NE(std::string(e.what()).find("over Ethernet between synchronous domains"), std::string::npos)
        << e.what();
  }
  // The schedule without the Ethernet latency's fixed part: the same refusal, without jitter.
  SystemProgram early = c.decode->program();
  early.predicted_cycles = 0;
  const Topology& topology = sim.topology();
  const int first_domain = topology.domain(early.chips.front().chip);
  for (ChipAssignment& chip : early.chips)
    if (topology.domain(chip.chip) != first_domain) chip.start_cycle -= topology.ethernet_latency_cycles();
  EXPECT_THROW(sim.run(early, SimulationMode::Timing, c.chips), MachineRuleViolation);
}

}  // namespace
}  // namespace lockstep::lpu
