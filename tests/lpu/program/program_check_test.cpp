// check_program: random valid programs pass; each structural rule refuses one broken program (a
// test case of ProgramCheckRuleTest each) with an error naming the queue, the instruction and
// the rule. program_end_cycle follows the
// definition of Program::predicted_cycles.
#include "lpu/program/program_check.h"

#include <gtest/gtest.h>

#include <functional>

#include "support/expect_error.h"
#include "support/lpu_chip.h"
#include "support/random_program.h"

namespace lockstep::lpu {
namespace {

using testing::expect_error_naming;

const ChipConfig& chip() { return testing::test_chip(); }
const Floorplan& floorplan() { return testing::test_floorplan(); }
std::uint8_t east(int i) { return encode_stream({Direction::East, static_cast<std::uint8_t>(i)}); }
std::uint8_t west(int i) { return encode_stream({Direction::West, static_cast<std::uint8_t>(i)}); }

Instruction make(Opcode op, std::uint64_t cycle) {
  Instruction in;
  in.opcode = op;
  in.cycle = cycle;
  return in;
}

// One valid program touching every unit; tests break one field of it.
struct Fixture {
  Program p;
  int mem, vxm, sxm, lw, abc, emit;  // queue ids

  Fixture() {
    const Floorplan& f = floorplan();
    mem = f.mem_queue(0);
    vxm = f.vxm_queue(0);
    sxm = f.sxm_queue(Hemisphere::East);
    lw = f.mxm_queue(2, Unit::MxmLoad);
    abc = f.mxm_queue(2, Unit::MxmCompute);
    emit = f.mxm_queue(2, Unit::MxmEmit);
    p.queues.resize(f.queue_count());

    Instruction read = make(Opcode::Read, 0);
    read.out = east(1);
    read.reach = static_cast<std::uint8_t>(f.vxm_position());
    read.repeat = 3;
    read.addr = 10;
    read.addr_step = 2;
    Instruction gather = make(Opcode::Gather, 10);
    gather.in[0] = east(2);
    gather.out = west(2);
    gather.reach = 0;
    gather.imm = 4;
    gather.imm3 = 8;
    Instruction write = make(Opcode::Write, 20);
    write.in[0] = west(5);
    write.width = 2;
    p.queues[mem] = {read, gather, write};

    Instruction add = make(Opcode::Add, 3);
    add.in[0] = east(1);
    add.in[1] = east(2);
    add.out = east(3);
    add.reach = 60;
    Instruction f16 = make(Opcode::ConvertF16ToF32, 4);
    f16.in[0] = east(3);
    f16.out = west(4);
    f16.reach = 10;
    f16.imm = 1;
    p.queues[vxm] = {add, f16};

    Instruction rotate = make(Opcode::Rotate, 5);
    rotate.in[0] = west(9);
    rotate.out = east(9);
    rotate.reach = static_cast<std::uint8_t>(f.positions() - 1);
    rotate.imm = 79;
    p.queues[sxm] = {rotate};

    Instruction load = make(Opcode::LoadWeights, 0);
    load.in[0] = west(0);
    load.width = 16;
    load.repeat = 20;  // rows 0 .. 319
    p.queues[lw] = {load};

    Instruction install = make(Opcode::InstallWeights, 30);
    install.addr = 320;
    install.imm = static_cast<std::int32_t>(ElementType::I8);
    Instruction compute = make(Opcode::Compute, 40);
    compute.in[0] = west(1);
    compute.addr = 500;
    compute.addr_step = 1;
    compute.repeat = 12;  // rows 500 .. 511
    p.queues[abc] = {install, compute};

    Instruction out = make(Opcode::Emit, 80);
    out.out = west(28);  // w28 .. w31
    out.reach = 0;
    out.addr = 511;
    out.addr_step = -1;
    out.repeat = 512;
    p.queues[emit] = {out};

    p.memory.push_back({3, 100, std::vector<std::uint8_t>(2 * 320)});
    p.memory.push_back({3, 102, std::vector<std::uint8_t>(320)});
    p.buffers.push_back({"token", true, 0, 8, 1, ElementType::I32, 80});
    p.buffers.push_back({"logits", false, 87, 8191, 1, ElementType::I8, 320});
  }

  Instruction& at(int queue, int index) { return p.queues[queue][index]; }
};

TEST(ProgramCheckTest, FixtureIsValid) {
  EXPECT_NO_THROW(check_program(Fixture().p, chip(), floorplan()));
}

TEST(ProgramCheckTest, RandomValidProgramsPass) {
  for (int seed = 1; seed <= 300; ++seed) {
    const Program p = testing::random_valid_program(seed, chip(), floorplan());
    EXPECT_NO_THROW(check_program(p, chip(), floorplan())) << "seed " << seed;
  }
}

// One broken program per rule: `breaks` spoils the valid fixture; the error must name `where`
// and contain `rule`.
struct BrokenRule {
  std::string name;
  std::function<void(Fixture&)> breaks;
  std::string where;
  std::vector<std::string> rule;
  ChipConfig chip = testing::test_chip();
};

void PrintTo(const BrokenRule& broken, std::ostream* os) { *os << broken.name; }

ChipConfig with_16_streams() {
  ChipConfig c = testing::test_chip();
  c.streams_per_direction = 16;
  return c;
}

const std::vector<BrokenRule> kBrokenRules = {
    {"QueueCountMatchesTheFloorplan",
     [](Fixture& f) { f.p.queues.pop_back(); },
     "175 instruction queues",
     {"the chip has 176"}},
    {"OpcodeExists",
     [](Fixture& f) { f.at(f.vxm, 1).opcode = static_cast<Opcode>(kOpcodeCount); },
     "queue vxm.0 instruction 1 (opcode 31 @4)",
     {"does not exist"}},
    {"OpcodeBelongsToTheQueuesUnit",
     [](Fixture& f) { f.at(f.sxm, 0).opcode = Opcode::Abs; },
     "queue sxm.e instruction 0 (abs @5)",
     {"abs is a vxm instruction", "sxm queue"}},
    {"RepeatIsPositive",
     [](Fixture& f) { f.at(f.mem, 0).repeat = 0; },
     "queue mem.w0 instruction 0",
     {"repeat is 0"}},
    {"StrideIsPositive",
     [](Fixture& f) { f.at(f.mem, 0).stride = 0; },
     "queue mem.w0 instruction 0",
     {"stride is 0"}},
    {"CyclesStayBelowTheLimit",
     [](Fixture& f) { f.at(f.sxm, 0).cycle = kMaxProgramCycle; },
     "queue sxm.e instruction 0",
     {"beyond the limit"}},
    {"InstructionsDoNotOverlapInTheirQueue",
     [](Fixture& f) {
       f.at(f.mem, 0).stride = 3;  // read issues at 0, 3, 6
       f.at(f.mem, 1).cycle = 4;
     },
     "queue mem.w0 instruction 1",
     {"cycle 4", "last iteration at cycle 6"}},
    {"InstructionsDoNotShareACycle",
     [](Fixture& f) { f.at(f.mem, 1).cycle = 2; },
     "queue mem.w0 instruction 1",
     {"in order"}},  // read issues at 0, 1, 2
    {"InstructionsAreInIssueOrder",
     [](Fixture& f) { std::swap(f.at(f.vxm, 0), f.at(f.vxm, 1)); },
     "queue vxm.0 instruction 1 (add @3)",
     {"in order"}},
    {"LoadWeightsWidthIsBoundedByLoadStreams",
     [](Fixture& f) { f.at(f.lw, 0).width = 17; },
     "queue mxm.e0.lw instruction 0",
     {"width 17 is not 1 to 16"}},
    {"ReadWriteWidthIsOneOrTwo",
     [](Fixture& f) { f.at(f.mem, 2).width = 3; },
     "queue mem.w0 instruction 2 (write @20)",
     {"width 3 is not 1 or 2"}},
    {"OtherOpcodesHaveNoWidth",
     [](Fixture& f) { f.at(f.vxm, 0).width = 2; },
     "queue vxm.0 instruction 0",
     {"only lw, read and write have a width"}},
    {"UsedInputStreamIsSet",
     [](Fixture& f) { f.at(f.vxm, 0).in[1] = kNoStream; },
     "queue vxm.0 instruction 0",
     {"add uses in1, but it is not set"}},
    {"UnusedInputStreamIsUnset",
     [](Fixture& f) { f.at(f.vxm, 0).in[2] = east(0); },
     "queue vxm.0 instruction 0",
     {"in2 is set, but add has no such operand"}},
    {"WrittenOutputStreamIsSet",
     [](Fixture& f) { f.at(f.mem, 0).out = kNoStream; },
     "queue mem.w0 instruction 0",
     {"read uses out"}},
    {"UnwrittenOutputStreamIsUnset",
     [](Fixture& f) { f.at(f.mem, 2).out = east(0); },
     "queue mem.w0 instruction 2",
     {"out is set, but write has no such operand"}},
    {"StreamByteIsAStream",
     [](Fixture& f) { f.at(f.vxm, 0).in[0] = 0x40; },
     "queue vxm.0 instruction 0",
     {"in0 byte 0x40 is not a stream"}},
    {"StreamIndexExists",
     [](Fixture& f) {
       f.at(f.emit, 0).out = west(0);
       f.at(f.vxm, 0).in[0] = east(16);
     },
     "queue vxm.0 instruction 0",
     {"in0 uses streams 16 to 16", "16 per direction"},
     with_16_streams()},
    {"WidthScaledInputGroupFits",
     [](Fixture& f) { f.at(f.lw, 0).in[0] = west(17); },
     "queue mxm.e0.lw instruction 0",
     {"in0 uses streams 17 to 32"}},
    {"ReadOutputGroupFits",
     [](Fixture& f) {
       f.at(f.mem, 0).out = east(31);
       f.at(f.mem, 0).width = 2;
     },
     "queue mem.w0 instruction 0",
     {"out uses streams 31 to 32"}},
    {"EmitWritesFourStreams",
     [](Fixture& f) { f.at(f.emit, 0).out = west(29); },
     "queue mxm.e0.emit instruction 0",
     {"out uses streams 29 to 32"}},
    {"EastReachLiesEast",
     [](Fixture& f) { f.at(f.vxm, 0).reach = 40; },
     "queue vxm.0 instruction 0",
     {"reach 40 lies west of position 47"}},
    {"WestReachLiesWest",
     [](Fixture& f) { f.at(f.vxm, 1).reach = 50; },
     "queue vxm.0 instruction 1",
     {"reach 50 lies east of position 47"}},
    {"ReachIsOnTheChip",
     [](Fixture& f) { f.at(f.sxm, 0).reach = 95; },
     "queue sxm.e instruction 0",
     {"reach 95 is beyond the last position 94"}},
    {"MemAddressesStayInTheSlice",
     [](Fixture& f) { f.at(f.mem, 0).addr = 8188; },
     "queue mem.w0 instruction 0",
     {"addresses 8188 to 8192", "8192 vectors"}},
    {"MemAddressesDoNotGoNegative",
     [](Fixture& f) { f.at(f.mem, 0).addr_step = -6; },
     "queue mem.w0 instruction 0",
     {"addresses -2 to 10"}},
    {"WidthTwoNeedsBankZero",
     [](Fixture& f) { f.at(f.mem, 2).addr = 4096; },
     "queue mem.w0 instruction 2",
     {"width 2 needs every address in bank 0"}},
    {"GatherRowsStayInTheSlice",
     [](Fixture& f) { f.at(f.mem, 1).addr = 8192 - 28; },
     "queue mem.w0 instruction 1",
     {"addresses 8164 to 8192"}},
    {"GatherRowCountIsNotNegative",
     [](Fixture& f) { f.at(f.mem, 1).imm3 = -1; },
     "queue mem.w0 instruction 1",
     {"imm3", "below 0"}},
    {"LoadWeightsRowsFitThePlane",
     [](Fixture& f) { f.at(f.lw, 0).addr = 1; },
     "queue mxm.e0.lw instruction 0",
     {"buffer rows 1 to 320", "a plane has 320"}},
    {"ComputeAccumulatorRowsExist",
     [](Fixture& f) { f.at(f.abc, 1).repeat = 13; },
     "queue mxm.e0.abc instruction 1",
     {"accumulator rows 500 to 512"}},
    {"EmitAccumulatorRowsExist",
     [](Fixture& f) { f.at(f.emit, 0).repeat = 513; },
     "queue mxm.e0.emit instruction 0",
     {"accumulator rows -1 to 511"}},
    {"InstallWeightsRowsFitThePlane",
     [](Fixture& f) { f.at(f.abc, 0).addr = 321; },
     "queue mxm.e0.abc instruction 0",
     {"installs 321 rows"}},
    {"InstallWeightsTypeIsI8OrF16",
     [](Fixture& f) { f.at(f.abc, 0).imm = static_cast<std::int32_t>(ElementType::F32); },
     "queue mxm.e0.abc instruction 0",
     {"element type imm 0"}},
    {"RotateLaneExists",
     [](Fixture& f) { f.at(f.sxm, 0).imm = 80; },
     "queue sxm.e instruction 0",
     {"lane 80 is not in 0 to 79"}},
    {"RotateLaneIsNotNegative",
     [](Fixture& f) { f.at(f.sxm, 0).imm = -1; },
     "queue sxm.e instruction 0",
     {"lane -1"}},
    {"ConvertF16ToF32HalfIsZeroOrOne",
     [](Fixture& f) { f.at(f.vxm, 1).imm = 2; },
     "queue vxm.0 instruction 1 (cvt.f16.f32 @4)",
     {"imm 2 selects neither"}},
    {"MemorySegmentsHoldWholeVectors",
     [](Fixture& f) { f.p.memory[0].bytes.resize(321); },
     "memory segment 0 (slice 3, addr 100)",
     {"321 bytes are not whole 320-byte"}},
    {"MemorySegmentSliceExists",
     [](Fixture& f) { f.p.memory[1].slice = 88; },
     "memory segment 1 (slice 88, addr 102)",
     {"slice 88 does not exist"}},
    {"MemorySegmentsLieInTheirSlice",
     [](Fixture& f) { f.p.memory[1].addr = 8192; },
     "memory segment 1",
     {"1 vectors from vector 8192 leave the slice's 8192"}},
    {"MemorySegmentsDoNotOverlap",
     [](Fixture& f) { f.p.memory[1].addr = 101; },
     "memory segments overlap in slice 3 at vector 101",
     {}},
    {"HostBuffersLieInTheirSlice",
     [](Fixture& f) { f.p.buffers[1].vectors = 2; },
     "host buffer 'logits'",
     {"2 vectors from vector 8191"}},
    {"HostBufferSliceExists",
     [](Fixture& f) { f.p.buffers[0].slice = -1; },
     "host buffer 'token'",
     {"slice -1 does not exist"}},
    {"HostBufferElementsFitTheirVectors",
     [](Fixture& f) { f.p.buffers[0].elements = 81; },
     "host buffer 'token'",
     {"81 elements do not fit in 1 vectors (80 at most)"}},
    {"HostBufferNamesAreUnique",
     [](Fixture& f) { f.p.buffers[1].name = "token"; },
     "host buffer 'token'",
     {"used twice"}},
};

class ProgramCheckRuleTest : public ::testing::TestWithParam<BrokenRule> {};

TEST_P(ProgramCheckRuleTest, RefusesTheBrokenProgram) {
  const BrokenRule& broken = GetParam();
  Fixture f;
  broken.breaks(f);
  expect_error_naming([&] { check_program(f.p, broken.chip, floorplan()); }, broken.where,
                      broken.rule);
}

INSTANTIATE_TEST_SUITE_P(Rules, ProgramCheckRuleTest, ::testing::ValuesIn(kBrokenRules),
                         [](const auto& info) { return info.param.name; });

TEST(ProgramEndCycleTest, EmptyProgramEndsAtZero) {
  Program p;
  p.queues.resize(floorplan().queue_count());
  EXPECT_EQ(program_end_cycle(p, chip()), 0u);
}

TEST(ProgramEndCycleTest, IsTheLastEffectPlusOnePlusTheSuperlaneStagger) {
  Program p;
  p.queues.resize(floorplan().queue_count());
  Instruction exp = make(Opcode::Exp, 100);  // transcendental: 12 cycles
  exp.repeat = 3;
  exp.stride = 5;                            // last issue 110, effect 122
  Instruction add = make(Opcode::Add, 119);  // alu: 4 cycles, effect 123
  p.queues[floorplan().vxm_queue(0)] = {exp};
  p.queues[floorplan().vxm_queue(1)] = {add};
  EXPECT_EQ(program_end_cycle(p, chip()), 123u + 1 + 19);
  p.queues[floorplan().vxm_queue(1)][0].cycle = 117;  // effect 121: the exp ends later
  EXPECT_EQ(program_end_cycle(p, chip()), 122u + 1 + 19);
}

}  // namespace
}  // namespace lockstep::lpu
