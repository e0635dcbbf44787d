// The chip simulator on hand-built programs whose cycles are worked out by hand from the timing
// law (isa.h) and the default delays (mem_read 2, mem_write 2, gather / scatter 4, vxm_alu 4,
// lw 1, iw 4, compute 24, emit 4; 20 superlanes). Floorplan positions (floorplan.h): MEM slice
// wK at 46 - K (global slice K), eK at 48 + K (global 44 + K), VXM at 47, MXM plane w0 at 1.
// Values are checked in functional mode; timing mode must give the same cycles. Then one test
// per machine rule breaks a valid program on purpose, in both modes, and expects the simulator
// to refuse it with a sentence naming the rule, queue, instruction, iteration and cycle.
#include "support/lpu_vectors.h"
#include "lpu/sim/simulator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lpu/program/program_builder.h"
#include "lpu/report/chip_chrome_trace.h"
#include "numerics/half.h"

namespace lockstep::lpu {
namespace {

constexpr int kBytes = 320;
constexpr int kPerBank = 4096;

using testing::f32_lane;
using testing::f32_vector;
std::vector<std::uint8_t> i32_vector(std::int32_t lane0) {
  std::vector<std::uint8_t> v(kBytes, 0);
  std::memcpy(v.data(), &lane0, 4);
  return v;
}

// Runs `program` and expects a MachineRuleViolation whose message contains every one of `words`.
void expect_violation(const Program& program, SimulationMode mode,
                      const std::vector<std::string>& words, const ChipConfig& config = {}) {
  Chip chip{config};
  try {
    chip.run(program, mode);
    ADD_FAILURE() << "the simulator accepted the program";
  } catch (const MachineRuleViolation& e) {
    const std::string message = e.what();
    for (const auto& w : words)
      EXPECT_NE(message.find(w), std::string::npos) << "'" << w << "' not in: " << message;
  }
}

// ---- The add program -------------------------------------------------------------------------
// mem.w0 (46) reads 20 vectors onto e0, mem.e0 (48) reads 20 onto w0; both arrive at the VXM (47)
// at cycle i + 3 (read at i, out at i + 2, one hop). vxm.0 adds them at cycle 3 + i and writes w1
// at 7 + i, reaching mem.w1 (45) at 9 + i, which writes them at address 100 + i (commit 11 + i).
// Last effect: the write issued at 28 commits at 30, so the run lasts 30 + 1 + 19 = 50 cycles.
struct AddProgram {
  int write_cycle = 9;
  int vxm_cycle = 3;
  int vxm_reach = 45;
  std::uint32_t write_addr = 100;
};

ProgramBuilder add_program(const Floorplan& floorplan, const AddProgram& p = {}) {
  ProgramBuilder b(floorplan);
  b.add("mem.w0", mem_read(0, 20, 0, east(0), 47));
  b.add("mem.e0", mem_read(0, 20, 0, west(0), 47));
  b.add("vxm.0", vector_op(Opcode::Add, p.vxm_cycle, 20, {east(0), west(0)}, west(1), p.vxm_reach));
  b.add("mem.w1", mem_write(p.write_cycle, 20, p.write_addr, west(1)));
  return b;
}

void load_add_inputs(Chip& chip) {
  for (int i = 0; i < 20; ++i) {
    chip.write_vector(0, i, f32_vector(static_cast<float>(i), 0.5f));
    chip.write_vector(44, i, f32_vector(100.0f, static_cast<float>(-i)));
  }
}

TEST(SimulatorTest, AddProgramHasHandComputedCyclesAndValues) {
  const ChipConfig config;
  Chip chip(config);
  ProgramBuilder b = add_program(chip.floorplan());
  b.program().predicted_cycles = 50;
  load_add_inputs(chip);
  const SimulationResult functional = chip.run(b.program(), SimulationMode::Functional);
  EXPECT_EQ(functional.cycles, 50u);
  for (int i = 0; i < 20; ++i) {
    const auto out = chip.read_vector(1, 100 + i);
    for (int l = 0; l < 80; ++l)
      ASSERT_EQ(f32_lane(out, l), (static_cast<float>(i) + 0.5f * l) + (100.0f - i * l))
          << "vector " << i << " lane " << l;
  }
  EXPECT_EQ(chip.read_vector(1, 120), std::vector<std::uint8_t>(kBytes, 0));

  Chip timing_chip(config);
  const SimulationResult timing = timing_chip.run(b.program(), SimulationMode::Timing);
  EXPECT_EQ(timing, functional);
  EXPECT_EQ(timing_chip.read_vector(1, 100), std::vector<std::uint8_t>(kBytes, 0));
}

TEST(SimulatorTest, AddProgramCountsActivity) {
  Chip chip{ChipConfig{}};
  const SimulationResult r =
      chip.run(add_program(chip.floorplan()).program(), SimulationMode::Timing);
  EXPECT_EQ(r.instructions, 4u);
  EXPECT_EQ(r.iterations, 80u);
  EXPECT_EQ(r.unit_iterations[static_cast<int>(Unit::Mem)], 60u);
  EXPECT_EQ(r.unit_iterations[static_cast<int>(Unit::Vxm)], 20u);
  EXPECT_EQ(r.queue_iterations[chip.floorplan().find_queue("mem.w1")], 20u);
  EXPECT_EQ(r.queue_iterations[chip.floorplan().find_queue("vxm.1")], 0u);
  // Reads cover 2 positions (46..47, 47..48), the add 3 (45..47): 20 * (2 + 2 + 3).
  EXPECT_EQ(r.stream_vector_hops, 140u);
  EXPECT_EQ(r.mem_bank_accesses, 60u);
  EXPECT_EQ(program_end_cycle(add_program(chip.floorplan()).program(), ChipConfig{}), 50u);
}

TEST(SimulatorTest, WrongPredictionIsAnError) {
  Chip chip{ChipConfig{}};
  ProgramBuilder b = add_program(chip.floorplan());
  b.program().predicted_cycles = 49;
  try {
    chip.run(b.program(), SimulationMode::Timing);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lasted 50 cycles, but the compiler predicted 49"),
              std::string::npos)
        << e.what();
  }
}

TEST(SimulatorTest, RunsAreDeterministic) {
  const ChipConfig config;
  std::vector<std::vector<std::uint8_t>> memory[2];
  SimulationResult results[2];
  for (int run = 0; run < 2; ++run) {
    Chip chip(config);
    load_add_inputs(chip);
    results[run] = chip.run(add_program(chip.floorplan()).program(), SimulationMode::Functional);
    for (int i = 0; i < 20; ++i) memory[run].push_back(chip.read_vector(1, 100 + i));
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(memory[0], memory[1]);
}

TEST(SimulatorTest, EmptyProgramLastsNoCycles) {
  Chip chip{ChipConfig{}};
  EXPECT_EQ(chip.run(Program{}, SimulationMode::Functional).cycles, 0u);
}

// ---- MXM matrix-vector product ---------------------------------------------------------------
// Slices w0..w15 (46 - k) read vectors 0..19 from cycle k onto westward streams k, reaching plane
// w0 (position 1) at k + i + 2 + (45 - k) = 47 + i. mxm.w0.lw loads rows 16 i .. 16 i + 15 at
// 47 + i (ready + 1): row 16 i + k = slice k vector i. Install at 67 (ready 71); the input x from
// w16 (30), read at 40, arrives at 71; compute row 0 at 71 (ready 95); emit at 95 onto e0..e3
// (out at 99); mem.w43 (3) writes e0, e1 at 101 into banks 0 and 1; mem.w42 (4) writes e2, e3 at
// 102. Last effect 104: 124 cycles.
struct MatVec {
  ElementType type = ElementType::I8;
  int lw_repeat = 20;
  int install = 67;
  int compute = 71;
  int emit = 95;
  int emit_row = 0;
};

ProgramBuilder matvec_program(const Floorplan& floorplan, const MatVec& m) {
  ProgramBuilder b(floorplan);
  for (int k = 0; k < 16; ++k) b.add(floorplan.mem_queue(k), mem_read(k, 20, 0, west(k), 1));
  b.add("mxm.w0.lw", load_weights(47, m.lw_repeat, 0, west(0), 16));
  b.add("mxm.w0.abc", install_weights(m.install, 320, m.type));
  b.add("mem.w16", mem_read(m.compute - 31, 1, 0, west(16), 1));
  b.add("mxm.w0.abc", mxm_compute(m.compute, 1, 0, west(16), false));
  b.add("mxm.w0.emit", mxm_emit(m.emit, 1, m.emit_row, east(0), 4));
  b.add("mem.w43", mem_write(m.emit + 6, 1, 0, east(0), 2));
  b.add("mem.w42", mem_write(m.emit + 7, 1, 0, east(2), 2));
  return b;
}

// Output lane r of the emitted row, read back from where the writes put it.
std::vector<std::uint8_t> matvec_output(const Chip& chip) {
  std::vector<std::uint8_t> out;
  for (auto [slice, addr] : {std::pair{43, 0}, {43, kPerBank}, {42, 0}, {42, kPerBank}}) {
    const auto v = chip.read_vector(slice, addr);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST(SimulatorTest, MxmI8MatrixVectorProduct) {
  const ChipConfig config;
  Chip chip(config);
  std::vector<std::int8_t> w(320 * 320);  // [row][k]
  for (int r = 0; r < 320; ++r)
    for (int k = 0; k < 320; ++k)
      w[r * 320 + k] = static_cast<std::int8_t>((r * 31 + k * 17) % 251 - 125);
  for (int slice = 0; slice < 16; ++slice)
    for (int i = 0; i < 20; ++i)
      chip.write_vector(
          slice, i,
          std::span(reinterpret_cast<const std::uint8_t*>(&w[(16 * i + slice) * 320]), 320));
  std::vector<std::uint8_t> x(320);
  for (int k = 0; k < 320; ++k)
    x[k] = static_cast<std::uint8_t>(static_cast<std::int8_t>(k % 200 - 100));
  chip.write_vector(16, 0, x);

  ProgramBuilder b = matvec_program(chip.floorplan(), {});
  b.program().predicted_cycles = 124;
  chip.run(b.program(), SimulationMode::Functional);
  const auto out = matvec_output(chip);
  for (int r = 0; r < 320; ++r) {
    std::int32_t expected = 0;
    for (int k = 0; k < 320; ++k) expected += w[r * 320 + k] * static_cast<std::int8_t>(x[k]);
    std::int32_t got;
    std::memcpy(&got, out.data() + 4 * r, 4);
    ASSERT_EQ(got, expected) << "row " << r;
  }
  std::vector<std::uint8_t> acc = chip.read_accumulator(0, 0);
  EXPECT_EQ(acc, out);

  Chip timing(config);
  EXPECT_EQ(timing.run(b.program(), SimulationMode::Timing).cycles, 124u);
}

TEST(SimulatorTest, MxmF16MatrixVectorProduct) {
  Chip chip{ChipConfig{}};
  std::vector<std::uint16_t> w(320 * 160);  // [row][k] fp16
  for (int r = 0; r < 320; ++r)
    for (int k = 0; k < 160; ++k)
      w[r * 160 + k] = numerics::fp32_to_fp16(static_cast<float>((r + 3 * k) % 13 - 6) * 0.25f);
  for (int slice = 0; slice < 16; ++slice)
    for (int i = 0; i < 20; ++i)
      chip.write_vector(
          slice, i,
          std::span(reinterpret_cast<const std::uint8_t*>(&w[(16 * i + slice) * 160]), 320));
  std::vector<std::uint16_t> x(160);
  for (int k = 0; k < 160; ++k) x[k] = numerics::fp32_to_fp16(static_cast<float>(k % 7) - 2.5f);
  chip.write_vector(16, 0, std::span(reinterpret_cast<const std::uint8_t*>(x.data()), 320));

  chip.run(matvec_program(chip.floorplan(), {.type = ElementType::F16}).program(),
           SimulationMode::Functional);
  const auto out = matvec_output(chip);
  for (int r = 0; r < 320; ++r) {
    float expected = 0.0f;
    for (int k = 0; k < 160; ++k)
      expected = expected + numerics::fp16_to_fp32(w[r * 160 + k]) * numerics::fp16_to_fp32(x[k]);
    ASSERT_EQ(f32_lane(out, r), expected) << "row " << r;
  }
}

// Double buffering: a load issued in the install's own cycle lands after the install, so it does
// not disturb it and counts for the next install.
TEST(SimulatorTest, LoadInTheInstallCycleCountsForTheNextInstall) {
  Chip chip{ChipConfig{}};
  ProgramBuilder b = matvec_program(chip.floorplan(), {});
  for (int k = 0; k < 16; ++k) b.program().queues[chip.floorplan().mem_queue(k)][0].repeat = 21;
  b.add("mxm.w0.lw", load_weights(67, 1, 0, west(0), 16));
  b.add("mxm.w0.abc", install_weights(72, 16, ElementType::I8));
  EXPECT_NO_THROW(chip.run(b.program(), SimulationMode::Timing));
}

// ---- Gather and Scatter ----------------------------------------------------------------------
// mem.w0 (46) reads index vectors 0, 1 at cycles 0, 1 onto w3, reaching mem.w2 (44) at 4, 5.
// mem.w2 gathers rows 10..13 (at 200 + row - 10) at 4, 5 onto w4 (out 8, 9), and mem.w3 (43)
// writes them at 9, 10 into addresses 0, 1. Last effect 12: 32 cycles.
TEST(SimulatorTest, GatherReadsTheIndexedRowOrZero) {
  Chip chip{ChipConfig{}};
  chip.write_vector(0, 0, i32_vector(12));
  chip.write_vector(0, 1, i32_vector(20));  // outside rows 10..13
  for (int r = 0; r < 4; ++r) chip.write_vector(2, 200 + r, f32_vector(1000.0f * r, 1.0f));
  chip.write_vector(3, 1, f32_vector(5.0f, 5.0f));  // overwritten by the zero vector
  ProgramBuilder b(chip.floorplan());
  b.add("mem.w0", mem_read(0, 2, 0, west(3), 44));
  b.add("mem.w2", mem_gather(4, 2, 200, west(3), west(4), 43, 10, 4, 1));
  b.add("mem.w3", mem_write(9, 2, 0, west(4)));
  b.program().predicted_cycles = 32;
  chip.run(b.program(), SimulationMode::Functional);
  EXPECT_EQ(chip.read_vector(3, 0), f32_vector(2000.0f, 1.0f));
  EXPECT_EQ(chip.read_vector(3, 1), std::vector<std::uint8_t>(kBytes, 0));
}

// A KV-cache update: the index (row) comes from mem.w0 (read at 4, at 44 by 8), the data from
// mem.e0 (48; read at 2, at 44 by 8); mem.w2 scatters at 8 into 300 + (row - 10) * 2, commit 12.
// Two runs with different rows leave both rows in MEM.
TEST(SimulatorTest, ScatterWritesTheIndexedRowAndMemoryPersistsAcrossRuns) {
  Chip chip{ChipConfig{}};
  ProgramBuilder b(chip.floorplan());
  b.add("mem.w0", mem_read(4, 1, 0, west(3), 44));
  b.add("mem.e0", mem_read(2, 1, 0, west(5), 44));
  b.add("mem.w2", mem_scatter(8, 1, 300, west(3), west(5), 10, 4, 2));
  b.program().predicted_cycles = 32;

  chip.write_vector(0, 0, i32_vector(12));
  chip.write_vector(44, 0, f32_vector(1.0f, 1.0f));
  chip.run(b.program(), SimulationMode::Functional);
  chip.write_vector(0, 0, i32_vector(11));
  chip.write_vector(44, 0, f32_vector(-1.0f, -1.0f));
  chip.run(b.program(), SimulationMode::Functional);
  chip.write_vector(0, 0, i32_vector(14));  // outside the rows: nothing written
  chip.run(b.program(), SimulationMode::Functional);

  EXPECT_EQ(chip.read_vector(2, 304), f32_vector(1.0f, 1.0f));
  EXPECT_EQ(chip.read_vector(2, 302), f32_vector(-1.0f, -1.0f));
  EXPECT_EQ(chip.read_vector(2, 306), std::vector<std::uint8_t>(kBytes, 0));
  EXPECT_EQ(chip.read_vector(2, 308), std::vector<std::uint8_t>(kBytes, 0));
}

// Five disjoint writes share one diagonal of e7 (key c + 2 - p = 0): mem.w4..w0 (42..46) each
// cover their own position, and mem.w0's reaches the VXM, which finds the fifth (kept beyond the
// three a diagonal holds inline) at 47 and moves it onto e8 (out at 51), for mem.e0 (48) at 52.
TEST(SimulatorTest, ManyWritesShareADiagonal) {
  Chip chip{ChipConfig{}};
  ProgramBuilder b(chip.floorplan());
  for (int k = 4; k >= 1; --k)
    b.add(chip.floorplan().mem_queue(k), mem_read(44 - k, 1, 0, east(7), 46 - k));
  b.add("mem.w0", mem_read(44, 1, 0, east(7), 47));
  b.add("vxm.0", vector_op(Opcode::Move, 47, 1, {east(7)}, east(8), 48));
  b.add("mem.e0", mem_write(52, 1, 0, east(8)));
  for (int k = 0; k <= 4; ++k) chip.write_vector(k, 0, f32_vector(static_cast<float>(k), 1.0f));
  chip.run(b.program(), SimulationMode::Functional);
  EXPECT_EQ(chip.read_vector(44, 0), f32_vector(0.0f, 1.0f));
}

// A loaded memory image and host buffers.
TEST(SimulatorTest, MemoryImageAndHostBuffers) {
  Chip chip{ChipConfig{}};
  Program program;
  program.memory.push_back({5, 4095, std::vector<std::uint8_t>(2 * kBytes, 0x5A)});
  chip.load_memory(program);
  EXPECT_EQ(chip.read_vector(5, 4096), std::vector<std::uint8_t>(kBytes, 0x5A));
  const HostBuffer buffer{"logits", false, 5, 4095, 2, ElementType::F32, 100};
  std::vector<std::uint8_t> bytes(400, 1);
  chip.write_buffer(buffer, bytes);
  const auto back = chip.read_buffer(buffer);
  ASSERT_EQ(back.size(), 640u);
  EXPECT_EQ(back[399], 1);
  EXPECT_EQ(back[400], 0);
  EXPECT_THROW(chip.write_buffer(buffer, std::vector<std::uint8_t>(641)), Error);
  EXPECT_THROW(chip.read_buffer({"x", true, 88, 0, 1, ElementType::F32, 1}), Error);
  EXPECT_THROW(chip.read_buffer({"x", true, 0, 8191, 2, ElementType::F32, 1}), Error);
}

// ---- Trace -----------------------------------------------------------------------------------

TEST(SimulatorTest, TraceIsAChromeTimelineOfQueuesAndStreams) {
  Chip chip{ChipConfig{}};
  std::stringstream json;
  {
    ChipChromeTrace trace(json);
    chip.run(add_program(chip.floorplan()).program(), SimulationMode::Timing, &trace);
  }
  const auto doc = nlohmann::json::parse(json.str());
  bool named_vxm = false, add_event = false, counter = false, end = false;
  for (const auto& e : doc.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "thread_name" && e.at("args").at("name") == "vxm.0")
      named_vxm = true;
    if (e.at("ph") == "X" && e.at("name") == "add") {
      add_event = true;
      EXPECT_EQ(e.at("args").at("cycle"), 3);
      EXPECT_EQ(e.at("args").at("repeat"), 20);
      EXPECT_EQ(e.at("args").at("streams"), "e0 w0 -> w1 reach 45");
      EXPECT_NEAR(e.at("ts").get<double>(), 3 / 900e6 * 1e6, 1e-4);
    }
    if (e.at("ph") == "C") {
      counter = true;
      EXPECT_EQ(e.at("args").at("east"), 1);
      EXPECT_EQ(e.at("args").at("west"), 2);
    }
    if (e.at("ph") == "i") end = e.at("name") == "end of run (50 cycles)";
  }
  EXPECT_TRUE(named_vxm);
  EXPECT_TRUE(add_event);
  EXPECT_TRUE(counter);
  EXPECT_TRUE(end);
}

TEST(SimulatorTest, TraceStopsAtItsEventLimit) {
  Chip chip{ChipConfig{}};
  std::stringstream json;
  {
    ChipChromeTrace trace(json, 12);
    chip.run(add_program(chip.floorplan()).program(), SimulationMode::Timing, &trace);
    EXPECT_EQ(trace.events_written(), 12u);
    EXPECT_THROW(chip.run(add_program(chip.floorplan()).program(), SimulationMode::Timing, &trace),
                 Error);  // one run per writer
  }
  const auto doc = nlohmann::json::parse(json.str());
  ASSERT_EQ(doc.at("traceEvents").size(), 12u);
  EXPECT_EQ(doc.at("traceEvents").back().at("name"), "trace truncated after 11 events");
}

// ---- One test per machine rule, in both modes ------------------------------------------------

class MachineRuleTest : public ::testing::TestWithParam<SimulationMode> {
 protected:
  ChipConfig config_;
  Floorplan floorplan_{config_};
};

// The write is one cycle late: each iteration takes the next vector, and the last finds none.
TEST_P(MachineRuleTest, ConsumerOneCycleLateFindsNoVector) {
  const ProgramBuilder b = add_program(floorplan_, {.write_cycle = 10});
  expect_violation(b.program(), GetParam(),
                   {"no vector on stream w1 at position 45, cycle 29 "
                    "(read by mem.w1 instruction 0 iteration 19)"});
}

TEST_P(MachineRuleTest, ConsumerOneCycleEarlyFindsNoVector) {
  const ProgramBuilder b = add_program(floorplan_, {.write_cycle = 8});
  expect_violation(b.program(), GetParam(),
                   {"no vector on stream w1 at position 45, cycle 8 "
                    "(read by mem.w1 instruction 0 iteration 0)"});
}

// mem.e1 (49) puts a vector on w1 reaching 45 on the diagonal the add writes (key 54).
TEST_P(MachineRuleTest, TwoWritersOnOneDiagonalCollide) {
  ProgramBuilder b = add_program(floorplan_);
  b.add("mem.e1", mem_read(3, 1, 0, west(1), 45));
  expect_violation(b.program(), GetParam(),
                   {"two writes collide on stream w1 at position 45, cycle 9",
                    "vxm.0 instruction 0 iteration 0 writes over the vector of mem.e1 "
                    "instruction 0 iteration 0"});
}

TEST_P(MachineRuleTest, ReadBeyondTheWritersReachFindsNoVector) {
  const ProgramBuilder b = add_program(floorplan_, {.vxm_reach = 46});
  expect_violation(b.program(), GetParam(),
                   {"no vector on stream w1 at position 45, cycle 9 "
                    "(read by mem.w1 instruction 0 iteration 0)",
                    "vxm.0 instruction 0 iteration 0 wrote on that diagonal covers positions "
                    "46..47 only"});
}

// The write's last commit lands on bank 0 at cycle 30; a read of bank 0 then is refused, a read
// of bank 1 is not.
TEST_P(MachineRuleTest, BankServesOneAccessPerCycle) {
  ProgramBuilder b = add_program(floorplan_);
  b.add("mem.w1", mem_read(30, 1, 5, east(5), 46));
  expect_violation(b.program(), GetParam(),
                   {"bank 0 of mem.w1 serves two accesses in cycle 30",
                    "the read of mem.w1 instruction 1 iteration 0",
                    "the write commit of mem.w1 instruction 0 iteration 19"});

  ProgramBuilder other_bank = add_program(floorplan_);
  other_bank.add("mem.w1", mem_read(30, 1, kPerBank + 5, east(5), 46));
  Chip chip(config_);
  EXPECT_EQ(chip.run(other_bank.program(), GetParam()).cycles, 52u);
}

// A width-2 read uses both banks, so it meets the commit into bank 1.
TEST_P(MachineRuleTest, WidthTwoReadUsesBothBanks) {
  ProgramBuilder b = add_program(floorplan_, {.write_addr = kPerBank + 100});
  b.add("mem.w1", mem_read(30, 1, 5, east(5), 46, 2));
  expect_violation(b.program(), GetParam(),
                   {"bank 1 of mem.w1 serves two accesses in cycle 30",
                    "the read of mem.w1 instruction 1 iteration 0"});
}

TEST_P(MachineRuleTest, QueueIssuesInOrder) {
  ProgramBuilder b = add_program(floorplan_);
  b.add("mem.w1", mem_write(5, 1, 0, west(1)));
  expect_violation(b.program(), GetParam(),
                   {"queue mem.w1 instruction 1", "issues at cycle 5",
                    "previous instruction issues its last iteration at cycle 28"});
}

TEST_P(MachineRuleTest, RepeatsOfOneQueueDoNotOverlap) {
  ProgramBuilder b = add_program(floorplan_);
  b.add("mem.w1", mem_write(28, 1, 0, west(1)));
  expect_violation(b.program(), GetParam(),
                   {"queue mem.w1 instruction 1", "issues at cycle 28",
                    "previous instruction issues its last iteration at cycle 28"});
}

TEST_P(MachineRuleTest, OpcodeRunsOnlyOnItsUnit) {
  ProgramBuilder b = add_program(floorplan_);
  b.add("mem.w0", vector_op(Opcode::Add, 30, 1, {east(0), west(0)}, west(1), 45));
  expect_violation(b.program(), GetParam(),
                   {"queue mem.w0 instruction 1 (add @30)",
                    "add is a vxm instruction, but mem.w0 is a mem queue"});
}

TEST_P(MachineRuleTest, ReachLiesDownstream) {
  const ProgramBuilder b = add_program(floorplan_, {.vxm_reach = 48});
  expect_violation(b.program(), GetParam(),
                   {"queue vxm.0 instruction 0 (add @3)",
                    "reach 48 lies east of position 47, against the output's westward flow"});
}

TEST_P(MachineRuleTest, AddressesStayInTheirSlice) {
  ProgramBuilder b = add_program(floorplan_);
  b.add("mem.w1", mem_read(30, 10, 8190, east(5), 46));
  expect_violation(b.program(), GetParam(),
                   {"queue mem.w1 instruction 1 (read @30)", "addresses 8190 to 8199 leave the slice"});
}

// The last load issues in the install's cycle: it lands after the install.
TEST_P(MachineRuleTest, InstallComesAfterTheLastLoad) {
  const ProgramBuilder b = matvec_program(floorplan_, {.install = 66});
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.abc instruction 0 iteration 0 installs weights at cycle 66, but "
                    "buffer row 304 was not loaded since the previous install"});
}

// With a 3-cycle load delay, the loads issued at 65 and 66 (rows 288..319) are not ready at 67.
TEST_P(MachineRuleTest, InstallNeedsEveryRowReady) {
  ChipConfig slow_load;
  slow_load.delays[static_cast<int>(DelayClass::MxmLoadWeights)] = 3;
  const ProgramBuilder b = matvec_program(floorplan_, {});
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.abc instruction 0 iteration 0 installs weights at cycle 67, but "
                    "buffer row 288 is loaded only at cycle 68"},
                   slow_load);
}

TEST_P(MachineRuleTest, InstallNeedsEveryRowLoaded) {
  const ProgramBuilder b = matvec_program(floorplan_, {.lw_repeat = 19});
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.abc instruction 0 iteration 0 installs weights at cycle 67, but "
                    "buffer row 304 was not loaded since the previous install"});
}

TEST_P(MachineRuleTest, ComputeWaitsForTheInstall) {
  const ProgramBuilder b = matvec_program(floorplan_, {.compute = 70});
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.abc instruction 1 iteration 0 computes at cycle 70, but the weights "
                    "installed at cycle 67 are ready only at cycle 71"});
}

TEST_P(MachineRuleTest, EmitWaitsForTheCompute) {
  const ProgramBuilder b = matvec_program(floorplan_, {.emit = 94});
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.emit instruction 0 iteration 0 emits accumulator row 0 at cycle 94, "
                    "but its latest compute is ready only at cycle 95"});
}

TEST_P(MachineRuleTest, EmitNeedsAComputedRow) {
  const ProgramBuilder b = matvec_program(floorplan_, {.emit_row = 1});
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.emit instruction 0 iteration 0 emits accumulator row 1 at cycle 95, "
                    "but the row holds no result of this run"});
}

TEST_P(MachineRuleTest, AccumulateNeedsAComputedRow) {
  ProgramBuilder b = matvec_program(floorplan_, {});
  b.program().queues[floorplan_.mxm_queue(0, Unit::MxmCompute)][1].imm = 1;
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.abc instruction 1 iteration 0 accumulates into accumulator row 0 "
                    "at cycle 71, but the row holds no result of this run"});
}

TEST_P(MachineRuleTest, ComputeNeedsInstalledWeights) {
  ProgramBuilder b = matvec_program(floorplan_, {});
  auto& abc = b.program().queues[floorplan_.mxm_queue(0, Unit::MxmCompute)];
  abc.erase(abc.begin());  // no install
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.abc instruction 0 iteration 0 computes at cycle 71, but no weights "
                    "are installed"});
}

// An f16 install of no rows (all zero) after the i8 one; accumulating its f32 results into the
// i32 row is refused. The second input comes from mem.w16 at 45, for the compute at 76.
TEST_P(MachineRuleTest, AccumulateKeepsTheElementType) {
  ProgramBuilder b = matvec_program(floorplan_, {.emit = 100});
  b.add("mxm.w0.abc", install_weights(72, 0, ElementType::F16));
  b.add("mem.w16", mem_read(45, 1, 1, west(16), 1));
  b.add("mxm.w0.abc", mxm_compute(76, 1, 0, west(16), true));
  expect_violation(b.program(), GetParam(),
                   {"mxm.w0.abc instruction 3 iteration 0 accumulates f32 results into "
                    "accumulator row 0 at cycle 76, but the row holds i32 results"});
}

// Two commits in one cycle: a scatter (delay 4) issued at 8 and a write (delay 2) issued at 10
// both land on bank 0 of mem.w2 at 12.
TEST_P(MachineRuleTest, TwoCommitsInOneCycleCollide) {
  ProgramBuilder b(floorplan_);
  b.add("mem.w0", mem_read(4, 1, 0, west(3), 44));
  b.add("mem.e0", mem_read(2, 1, 0, west(5), 44));
  b.add("mem.e0", mem_read(4, 1, 1, west(6), 44));
  b.add("mem.w2", mem_scatter(8, 1, 300, west(3), west(5), 10, 4, 2));
  b.add("mem.w2", mem_write(10, 1, 0, west(6)));
  expect_violation(b.program(), GetParam(),
                   {"bank 0 of mem.w2 serves two accesses in cycle 12: the write commit of "
                    "mem.w2 instruction 1 iteration 0 and the write commit of mem.w2 "
                    "instruction 0 iteration 0"});
}

// Static rules the simulator checks before the first cycle (lpu/program/program_check.h, the
// checker the compiler uses too).
TEST_P(MachineRuleTest, OperandsNameStreams) {
  ProgramBuilder b = add_program(floorplan_);
  b.program().queues[floorplan_.vxm_queue(0)][0].in[1] = kNoStream;
  expect_violation(b.program(), GetParam(), {"queue vxm.0 instruction 0 (add @3)", "add uses in1, but it is not set"});

  ProgramBuilder unused = add_program(floorplan_);
  unused.program().queues[floorplan_.vxm_queue(0)][0].in[2] = west(9);
  expect_violation(unused.program(), GetParam(),
                   {"queue vxm.0 instruction 0 (add @3)", "in2 is set, but add has no such operand"});
}

TEST_P(MachineRuleTest, GatherRowsShareOneBank) {
  ProgramBuilder b(floorplan_);
  b.add("mem.w0", mem_read(0, 1, 0, west(3), 44));
  b.add("mem.w2", mem_gather(4, 1, kPerBank - 2, west(3), west(4), 43, 10, 4, 1));
  expect_violation(b.program(), GetParam(),
                   {"queue mem.w2 instruction 0", "rows 4094 to 4097 of one iteration straddle two banks"});
}

// Memory order: the add program as group 1 (reads, add, write of addresses 100..119 on mem.w1,
// which holds its queue over cycles 9..28 and commits at 11..30), and a read of address 119 by
// mem.w1 in another group. Read at cycle 8 by a later group, it takes the vector before the
// write it relies on commits; read at 31 it is right; undeclared (order 0) it is not checked.
ProgramBuilder ordered_add_program(const Floorplan& floorplan, std::uint64_t read_cycle,
                                   std::uint32_t read_order, std::uint32_t add_order = 1) {
  ProgramBuilder b = add_program(floorplan);
  for (auto& queue : b.program().queues)
    for (Instruction& in : queue) in.order = add_order;
  Instruction read = mem_read(read_cycle, 1, 119, east(5), 46);
  read.order = read_order;
  auto& queue = b.program().queues[floorplan.mem_queue(1)];
  queue.insert(read_cycle < 9 ? queue.begin() : queue.end(), read);
  return b;
}

TEST_P(MachineRuleTest, ReadBeforeTheWriteItReliesOnIsAHazard) {
  expect_violation(ordered_add_program(floorplan_, 8, 2).program(), GetParam(),
                   {"memory data hazard: mem.w1 instruction 1 iteration 19 (memory order 1) "
                    "commits vector 119 of mem.w1 at cycle 30",
                    "mem.w1 instruction 0 (order 2, which relies on it) has already read",
                    "a read before the write it relies on has committed"});
  Chip chip(config_);
  EXPECT_EQ(chip.run(ordered_add_program(floorplan_, 31, 2).program(), GetParam()).cycles, 53u);
  EXPECT_EQ(chip.run(ordered_add_program(floorplan_, 8, 0).program(), GetParam()).cycles, 50u);
}

// The same read declared before the add (order 1, the add 2) must see the old vector, which the
// add's write has replaced by cycle 31.
TEST_P(MachineRuleTest, WriteOverDataNotYetReadIsAHazard) {
  expect_violation(ordered_add_program(floorplan_, 31, 1, 2).program(), GetParam(),
                   {"memory data hazard: mem.w1 instruction 1 iteration 0 (memory order 1) "
                    "reads vector 119 of mem.w1 at cycle 31",
                    "mem.w1 instruction 0 (order 2, later in the program) has already written "
                    "over the value it should read"});
  Chip chip(config_);
  EXPECT_EQ(chip.run(ordered_add_program(floorplan_, 8, 1, 2).program(), GetParam()).cycles, 50u);
}

INSTANTIATE_TEST_SUITE_P(BothModes, MachineRuleTest,
                         ::testing::Values(SimulationMode::Timing, SimulationMode::Functional),
                         [](const auto& info) {
                           return info.param == SimulationMode::Timing ? "Timing" : "Functional";
                         });

}  // namespace
}  // namespace lockstep::lpu
