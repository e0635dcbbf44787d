#include "compiler/decode_lowering.h"

#include <gtest/gtest.h>

#include "support/lpu_chip.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program_check.h"
#include "lpu/sim/simulator.h"

#include "model/model_loader.h"

namespace lockstep::compiler {
namespace {


TEST(DecodeLoweringTest, CompilesTheEmbeddedModel) {
  auto model = model::load_model("");
  const auto start = std::chrono::steady_clock::now();
  for (auto precision : {compiler::WeightPrecision::Fp16, compiler::WeightPrecision::Int8}) {
  DecodeProgram d(model->config, model.get(), lockstep::testing::test_system(), {precision, 0});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[measured] embedded decode: %llu cycles (%.1f us at 900 MHz), %llu instructions, %llu iterations, %.1f MiB placed, compile %.2f s\n",
              (unsigned long long)d.program().predicted_cycles, d.program().predicted_cycles / 900.0,
              (unsigned long long)d.program().instruction_count(),
              (unsigned long long)d.program().iteration_count(), d.sram_bytes() / 1048576.0, secs);
  EXPECT_GT(d.program().predicted_cycles, 0u);
    check_program(d.program(), lockstep::testing::test_system().chip, Floorplan(lockstep::testing::test_system().chip));
    EXPECT_EQ(d.program().predicted_cycles, program_end_cycle(d.program(), lockstep::testing::test_system().chip));
  }
}

// The simulator refuses a compiled program whose schedule breaks its memory order: one group
// (a vector op whose result a later group reads from MEM) is moved past the end of the run, so
// its reader takes the vector before it is written. Every other rule still holds (the moved
// group keeps its own stream timing, and nothing else runs then).
TEST(DecodeLoweringTest, SimulatorRefusesACompiledProgramWithAMemoryHazard) {
  const model::ModelConfig config = model::load_model("")->config;
  const DecodeProgram d(config, nullptr, lockstep::testing::test_system(), {WeightPrecision::Fp16, 128});
  Program p = d.program();
  {
    Chip chip(lockstep::testing::test_chip());
    EXPECT_EQ(chip.run(p, SimulationMode::Timing).cycles, p.predicted_cycles);
  }
  // The order of a group that only reads MEM, runs a VXM op and writes MEM, and whose first
  // written vector a later group reads.
  std::map<std::uint32_t, bool> plain;  // order -> only Read / Write / VXM
  for (const auto& queue : p.queues)
    for (const Instruction& in : queue) {
      const Unit unit = opcode_info(in.opcode).unit;
      const bool ok = in.opcode == Opcode::Read || in.opcode == Opcode::Write || unit == Unit::Vxm;
      auto [it, fresh] = plain.emplace(in.order, ok);
      if (!fresh) it->second = it->second && ok;
    }
  const Floorplan& fp = lockstep::testing::test_floorplan();
  std::uint32_t moved = 0;
  for (std::size_t q = 0; q < p.queues.size() && moved == 0; ++q)
    for (const Instruction& w : p.queues[q])
      if (w.opcode == Opcode::Write && plain[w.order] && moved == 0)
        for (const Instruction& r : p.queues[q])
          if (r.opcode == Opcode::Read && r.order > w.order && r.addr == w.addr && r.repeat == 1) {
            moved = w.order;
            break;
          }
  ASSERT_NE(moved, 0u) << "no group to move";
  const std::uint64_t shift = p.predicted_cycles + 100;
  for (auto& queue : p.queues) {
    for (Instruction& in : queue)
      if (in.order == moved) in.cycle += shift;
    std::stable_sort(queue.begin(), queue.end(),
                     [](const Instruction& a, const Instruction& b) { return a.cycle < b.cycle; });
  }
  p.predicted_cycles = 0;
  (void)fp;
  for (SimulationMode mode : {SimulationMode::Timing, SimulationMode::Functional}) {
    Chip chip(lockstep::testing::test_chip());
    try {
      chip.run(p, mode);
      ADD_FAILURE() << "the simulator ran a program with a memory hazard";
    } catch (const MachineRuleViolation& e) {
      EXPECT_NE(std::string(e.what()).find("memory data hazard"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace lockstep::compiler
