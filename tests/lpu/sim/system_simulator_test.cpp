// The system simulator on hand-built two-chip programs on the groq-node preset (8 chips, every
// pair joined by a local link). Chip A reads vectors from MEM slice w43 (position 3) westward to
// the west SXM (position 2), where channel 0's C2C queues sit, and sends them; chip B receives
// them on channel 0 and writes them eastward into its slice w43. Cycles follow isa.h's timing
// law with the preset's delays and the topology's link timing (occupancy ~24, transfer ~241).
// Then each link rule is broken on purpose and must be refused with its rule named.
#include "support/lpu_vectors.h"
#include "lpu/sim/system_simulator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "lpu/program/program_asm.h"
#include "lpu/program/program_binary.h"
#include "lpu/program/program_builder.h"
#include "lpu/program/program_check.h"

namespace lockstep::lpu {
namespace {

constexpr int kSliceW43 = 43;  // global slice of MEM w43, position 3
constexpr int kSliceW0 = 0;    // position 46
constexpr int kSliceE0 = 44;   // position 48

using testing::f32_lane;
using testing::f32_vector;

// The MachineRuleViolation `f` throws (failing the test if it throws none).
std::string violation_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const MachineRuleViolation& e) {
    return e.what();
  }
  ADD_FAILURE() << "no MachineRuleViolation";
  return {};
}

class SystemSimulatorTest : public ::testing::Test {
 protected:
  SystemSimulatorTest()
      : system_(load_system("groq-node")),
        topology_(system_),
        sim_(system_),
        chip_a_(system_.chip),
        chip_b_(system_.chip),
        bytes_(system_.chip.vector_bytes),
        occupancy_(sim_.occupancy_cycles()),
        transfer_(sim_.transfer_cycles()) {}

  int delay(DelayClass c) const { return system_.chip.delay(c); }
  const Floorplan& floorplan() const { return chip_a_.floorplan(); }
  int sxm_w() const { return floorplan().sxm_position(Hemisphere::West); }

  // The link of chip 0 that leads to chip 1, and its other end.
  int link_a() const { return 0; }
  int link_b() const { return topology_.peer(0, link_a()).link; }

  // Chip A: 3 vectors from w43 addr 0.. sent on `channel` from cycle `send`, `stride` apart.
  Program sender(std::int64_t send, int stride, int channel = 0, int count = 3) const {
    ProgramBuilder b(floorplan());
    const std::uint64_t read = static_cast<std::uint64_t>(send) - delay(DelayClass::MemRead) - 1;
    b.add("mem.w43", mem_read(read, count, 0, west(0), sxm_w())).stride =
        static_cast<std::uint16_t>(stride);
    b.add(fmt::format("c2c.{}.tx", channel),
          c2c_send(static_cast<std::uint64_t>(send), count, west(0),
                   static_cast<std::uint16_t>(stride)));
    return b.program();
  }
  // Chip B: `count` vectors received on channel 0 from `receive`, written to w43 addr 0...
  Program receiver(std::int64_t receive, int stride, int count = 3) const {
    ProgramBuilder b(floorplan());
    const auto s = static_cast<std::uint16_t>(stride);
    b.add("c2c.0.rx", c2c_receive(static_cast<std::uint64_t>(receive), count, east(1),
                                  sxm_w() + 1, s));
    const std::uint64_t write = static_cast<std::uint64_t>(receive) +
                                static_cast<std::uint64_t>(delay(DelayClass::C2cReceive)) + 1;
    b.add("mem.w43", mem_write(write, count, 0, east(1))).stride = s;
    return b.program();
  }

  std::vector<std::uint8_t> vector_of(int k) const {
    return f32_vector(1.0f + static_cast<float>(k), 0.5f, bytes_);
  }

  // A on chip 0, B on chip 1, channel 0 of each mapped to the link between them.
  SystemProgram pair(Program a, Program b) const {
    SystemProgram sp;
    sp.system = system_.name;
    sp.programs = {std::move(a), std::move(b)};
    sp.chips.resize(2);
    sp.chips[0].chip = 0;
    sp.chips[0].program = 0;
    sp.chips[0].channel_links[0] = link_a();
    sp.chips[0].role = "sender";
    sp.chips[1].chip = 1;
    sp.chips[1].program = 1;
    sp.chips[1].channel_links[0] = link_b();
    sp.chips[1].role = "receiver";
    MemorySegment m;
    m.slice = kSliceW43;
    for (int k = 0; k < 3; ++k) {
      const auto v = vector_of(k);
      m.bytes.insert(m.bytes.end(), v.begin(), v.end());
    }
    sp.chips[0].memory.push_back(m);
    return sp;
  }

  SystemProgram good_transfer() const {
    const std::int64_t send = 10;
    return pair(sender(send, static_cast<int>(occupancy_)),
                receiver(send + transfer_, static_cast<int>(occupancy_)));
  }

  SystemResult run(const SystemProgram& sp, SimulationMode mode) {
    std::vector<Chip*> chips = {&chip_a_, &chip_b_};
    if (mode == SimulationMode::Functional) load_system_memory(sp, chips);
    return sim_.run(sp, mode, chips);
  }

  SystemConfig system_;
  Topology topology_;
  SystemSimulator sim_;
  Chip chip_a_;
  Chip chip_b_;
  int bytes_;
  std::int64_t occupancy_;
  std::int64_t transfer_;
};

TEST_F(SystemSimulatorTest, LinkTimingIsThePresets) {
  EXPECT_GT(occupancy_, 10);
  EXPECT_GT(transfer_, occupancy_);
  EXPECT_EQ(topology_.peer(1, link_b()).chip, 0);
}

TEST_F(SystemSimulatorTest, VectorsArriveIntact) {
  const SystemProgram sp = good_transfer();
  const SystemResult r = run(sp, SimulationMode::Functional);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(chip_b_.read_vector(kSliceW43, k), vector_of(k)) << k;
  EXPECT_EQ(r.transfers, 3u);
  EXPECT_EQ(r.link_busy_cycles, 3u * static_cast<std::uint64_t>(occupancy_));
  ASSERT_EQ(r.chips.size(), 2u);
  EXPECT_EQ(r.cycles, std::max(r.chips[0].cycles, r.chips[1].cycles));
  EXPECT_EQ(r.chips[1].unit_iterations[static_cast<int>(Unit::C2c)], 3u);
}

TEST_F(SystemSimulatorTest, TimingAndFunctionalAgree) {
  const SystemProgram sp = good_transfer();
  const SystemResult functional = run(sp, SimulationMode::Functional);
  const SystemResult timing = run(sp, SimulationMode::Timing);
  EXPECT_EQ(timing, functional);
  std::vector<Chip*> chips = {&chip_a_, &chip_b_};
  EXPECT_EQ(sim_.run_every_chip(sp, SimulationMode::Timing, chips), timing);
}

TEST_F(SystemSimulatorTest, StartCyclesShiftChipsOnTheSystemClock) {
  // B starts 100 cycles late, so it receives 100 program cycles earlier.
  SystemProgram sp = pair(sender(10, static_cast<int>(occupancy_)),
                          receiver(10 + transfer_ - 100, static_cast<int>(occupancy_)));
  sp.chips[1].start_cycle = 100;
  const SystemResult r = run(sp, SimulationMode::Functional);
  EXPECT_EQ(r.cycles, 100 + r.chips[1].cycles);
  EXPECT_EQ(chip_b_.read_vector(kSliceW43, 2), vector_of(2));
  EXPECT_EQ(run(sp, SimulationMode::Timing), r);
}

// Both chips run one program (their channel maps and memory differ): each sends its vector to
// the other and adds what it receives to its own, at once over both directions of one link.
TEST_F(SystemSimulatorTest, SymmetricExchangeAdds) {
  ProgramBuilder b(floorplan());
  const int vxm = floorplan().vxm_position();
  const std::int64_t send = 10;
  const std::int64_t receive = send + transfer_;
  b.add("mem.w43", mem_read(static_cast<std::uint64_t>(send) - delay(DelayClass::MemRead) - 1,
                            1, 0, west(0), sxm_w()));
  b.add("c2c.0.tx", c2c_send(static_cast<std::uint64_t>(send), 1, west(0)));
  b.add("c2c.0.rx", c2c_receive(static_cast<std::uint64_t>(receive), 1, east(1), vxm));
  const std::int64_t add = receive + delay(DelayClass::C2cReceive) + (vxm - sxm_w());
  b.add("mem.w0", mem_read(static_cast<std::uint64_t>(add - delay(DelayClass::MemRead) - 1), 1, 0,
                           east(2), vxm));
  b.add("vxm.0", vector_op(Opcode::Add, static_cast<std::uint64_t>(add), 1, {east(1), east(2)},
                           east(3), vxm + 1));
  b.add("mem.e0", mem_write(static_cast<std::uint64_t>(add + delay(DelayClass::VxmAlu) + 1), 1, 0,
                            east(3)));
  SystemProgram sp;
  sp.system = system_.name;
  sp.programs = {b.program()};
  sp.chips.resize(2);
  for (int c = 0; c < 2; ++c) {
    sp.chips[c].chip = c;
    sp.chips[c].channel_links[0] = c == 0 ? link_a() : link_b();
    const auto own = vector_of(c);
    sp.chips[c].memory.push_back({kSliceW43, 0, own});
    sp.chips[c].memory.push_back({kSliceW0, 0, own});
  }
  const SystemResult r = run(sp, SimulationMode::Functional);
  for (Chip* chip : {&chip_a_, &chip_b_}) {
    const auto sum = chip->read_vector(kSliceE0, 0);
    for (int l : {0, 1, 79})
      EXPECT_EQ(f32_lane(sum, l), f32_lane(vector_of(0), l) + f32_lane(vector_of(1), l)) << l;
  }
  EXPECT_EQ(r.transfers, 2u);
  EXPECT_EQ(run(sp, SimulationMode::Timing), r);
}

// "Simulate once" on all 8 chips of the node: a ring where chip k sends to chip k + 1 over its
// local link 0 and receives from chip k - 1 over the link that leads back; one program.
TEST_F(SystemSimulatorTest, SimulateOnceEqualsEveryChipOnARing) {
  ProgramBuilder b(floorplan());
  const std::int64_t send = 10;
  const int stride = static_cast<int>(occupancy_);
  b.add("mem.w43", mem_read(static_cast<std::uint64_t>(send) - delay(DelayClass::MemRead) - 1, 3,
                            0, west(0), sxm_w()))
      .stride = static_cast<std::uint16_t>(stride);
  b.add("c2c.0.tx", c2c_send(static_cast<std::uint64_t>(send), 3, west(0),
                             static_cast<std::uint16_t>(stride)));
  b.add("c2c.1.rx", c2c_receive(static_cast<std::uint64_t>(send + transfer_), 3, east(1),
                                sxm_w() + 1, static_cast<std::uint16_t>(stride)));
  b.add("mem.w43", mem_write(static_cast<std::uint64_t>(send + transfer_) +
                                 static_cast<std::uint64_t>(delay(DelayClass::C2cReceive)) + 1,
                             3, 8, east(1)))
      .stride = static_cast<std::uint16_t>(stride);
  const int n = topology_.active_chips();
  SystemProgram sp;
  sp.system = system_.name;
  sp.programs = {b.program()};
  for (int c = 0; c < n; ++c) {
    ChipAssignment a;
    a.chip = c;
    a.start_cycle = 7 * c;  // staggered: still in time, since each receive waits for a send
    a.channel_links[0] = 0;  // to chip c + 1
    const int from = (c + n - 1) % n;
    a.channel_links[1] = topology_.peer(from, 0).link;
    sp.chips.push_back(a);
  }
  // With a stagger, chip 0 receives from chip 7, which starts 49 cycles later: too late.
  std::vector<std::unique_ptr<Chip>> owned;
  std::vector<Chip*> chips;
  for (int c = 0; c < n; ++c) {
    owned.push_back(std::make_unique<Chip>(system_.chip));
    chips.push_back(owned.back().get());
  }
  const std::string message =
      violation_of([&] { sim_.run(sp, SimulationMode::Timing, chips); });
  EXPECT_NE(message.find("no vector has arrived"), std::string::npos) << message;
  EXPECT_NE(message.find("chip 0"), std::string::npos) << message;
  for (auto& a : sp.chips) a.start_cycle = 0;
  const SystemResult once = sim_.run(sp, SimulationMode::Timing, chips);
  const SystemResult every = sim_.run_every_chip(sp, SimulationMode::Timing, chips);
  EXPECT_EQ(once, every);
  EXPECT_EQ(once.transfers, 3u * static_cast<std::uint64_t>(n));
  const SystemResult functional = sim_.run(sp, SimulationMode::Functional, chips);
  EXPECT_EQ(functional.cycles, once.cycles);
}

// ---- Each rule broken on purpose, refused in both modes --------------------------------------

void expect_refused(const std::function<SystemResult(SimulationMode)>& run,
                    const std::vector<std::string>& words) {
  for (SimulationMode mode : {SimulationMode::Timing, SimulationMode::Functional}) {
    const std::string message = violation_of([&] { run(mode); });
    for (const auto& w : words)
      EXPECT_NE(message.find(w), std::string::npos)
          << "'" << w << "' not in: " << message << " (mode " << static_cast<int>(mode) << ")";
  }
}

TEST_F(SystemSimulatorTest, SendsCloserThanTheOccupancyAreRefused) {
  const int stride = static_cast<int>(occupancy_) - 1;
  const SystemProgram sp = pair(sender(10, stride), receiver(10 + transfer_, stride));
  expect_refused([&](SimulationMode m) { return run(sp, m); },
                 {"carries one vector at a time", "link 0 of chip 0 (sender)", "c2c.0.tx",
                  fmt::format("system cycle {}", 10 + stride)});
}

TEST_F(SystemSimulatorTest, AReceiveBeforeArrivalIsRefused) {
  const int stride = static_cast<int>(occupancy_);
  const SystemProgram sp = pair(sender(10, stride), receiver(10 + transfer_ - 1, stride));
  expect_refused([&](SimulationMode m) { return run(sp, m); },
                 {"no vector has arrived", fmt::format("link {} of chip 1 (receiver)", link_b()),
                  fmt::format("by system cycle {}", 10 + transfer_ - 1),
                  fmt::format("arrives at cycle {}", 10 + transfer_)});
}

TEST_F(SystemSimulatorTest, AVectorNeverReceivedIsRefused) {
  const int stride = static_cast<int>(occupancy_);
  const SystemProgram sp = pair(sender(10, stride), receiver(10 + transfer_, stride, 2));
  expect_refused([&](SimulationMode m) { return run(sp, m); },
                 {"never received", "chip 0 (sender)",
                  fmt::format("system cycle {}", 10 + 2 * stride)});
}

TEST_F(SystemSimulatorTest, TwoChannelsOnOneLinkOverlapping) {
  // Channel 1 also maps onto link 0 and sends in the same cycles as channel 0.
  const int stride = static_cast<int>(occupancy_);
  Program a = sender(10, stride);
  const Program extra = sender(10, stride, 1);
  const int tx1 = floorplan().c2c_queue(1, true);
  a.queues[tx1] = extra.queues[tx1];
  SystemProgram sp = pair(a, receiver(10 + transfer_, stride));
  sp.chips[0].channel_links[1] = link_a();
  expect_refused([&](SimulationMode m) { return run(sp, m); },
                 {"carries one vector at a time", "c2c.1.tx", "c2c.0.tx", "system cycle 10"});
}

TEST_F(SystemSimulatorTest, AnUnmappedChannelIsRefused) {
  SystemProgram sp = good_transfer();
  sp.chips[0].channel_links[0] = kUnmappedChannel;
  expect_refused([&](SimulationMode m) { return run(sp, m); },
                 {"chip 0 runs c2c.0.tx", "channel 0 is mapped to no link"});
  sp.chips[0].channel_links[0] = 99;
  expect_refused([&](SimulationMode m) { return run(sp, m); },
                 {"link 99, which the chip does not have"});
}

TEST_F(SystemSimulatorTest, AC2cInstructionOnALoneChipIsRefused) {
  const Program a = sender(10, static_cast<int>(occupancy_));
  for (SimulationMode mode : {SimulationMode::Timing, SimulationMode::Functional}) {
    Chip chip(system_.chip);
    const std::string message = violation_of([&] { chip.run(a, mode); });
    EXPECT_NE(message.find("c2c.0.tx instruction 0"), std::string::npos) << message;
    EXPECT_NE(message.find("needs a system to run: its chip has no links"), std::string::npos)
        << message;
  }
}

TEST_F(SystemSimulatorTest, SendAndReceiveRunOnlyOnTheirQueues) {
  ProgramBuilder b(floorplan());
  b.add("c2c.0.rx", c2c_send(10, 1, west(0)));
  const std::string message = violation_of([&] { chip_a_.decode(b.program()); });
  EXPECT_NE(message.find("c2c.0.rx"), std::string::npos) << message;
  EXPECT_NE(message.find("receive queue"), std::string::npos) << message;
}

TEST_F(SystemSimulatorTest, TheCheckerAgreesOnC2cQueues) {
  ProgramBuilder b(floorplan());
  b.add("c2c.3.tx", c2c_receive(10, 1, east(0), 3));
  const std::string decoded = violation_of([&] { chip_a_.decode(b.program()); });
  EXPECT_NE(decoded.find("transmit queue"), std::string::npos) << decoded;
  try {
    check_program(b.program(), system_.chip, floorplan());
    ADD_FAILURE() << "check_program accepted recv on a transmit queue";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c2c.3.tx"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_program(good_transfer().programs[0], system_.chip, floorplan()));
  EXPECT_NO_THROW(check_program(good_transfer().programs[1], system_.chip, floorplan()));
}

TEST_F(SystemSimulatorTest, SendAndRecvRoundTripThroughAsmAndBinary) {
  const SystemProgram sp = good_transfer();
  for (const Program& p : sp.programs) {
    const std::string text = write_program_asm(p, floorplan());
    EXPECT_NE(text.find(p.queues[floorplan().c2c_queue(0, true)].empty() ? "recv" : "send"),
              std::string::npos)
        << text;
    EXPECT_EQ(parse_program_asm(text, floorplan(), "test"), p);
    EXPECT_EQ(read_program_binary(write_program_binary(p), "test"), p);
  }
}

TEST_F(SystemSimulatorTest, ChipRunAdvancesInSteps) {
  // A lone chip's program run in steps gives what one run gives.
  ProgramBuilder b(floorplan());
  b.add("mem.w43", mem_read(5, 4, 0, east(0), 4)).stride = 50;
  b.add("mem.w42", mem_write(5 + static_cast<std::uint64_t>(delay(DelayClass::MemRead)) + 1, 4, 0,
                             east(0)))
      .stride = 50;
  const Program p = b.program();
  const DecodedProgram d = chip_a_.decode(p);
  ChipRun run(chip_a_, d, p, SimulationMode::Timing, nullptr);
  EXPECT_TRUE(run.advance(0));
  EXPECT_TRUE(run.advance(60));
  EXPECT_TRUE(run.advance(120));  // iterations at 155 and 158 remain
  EXPECT_FALSE(run.advance(1000));
  EXPECT_EQ(run.finish(), chip_a_.run(p, SimulationMode::Timing));
}

}  // namespace
}  // namespace lockstep::lpu
