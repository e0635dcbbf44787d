// The butterfly all-reduce, run functionally on 2, 4 and 8 simulated chips of a node: every rank
// ends with the element-wise sum of all ranks' inputs, bit for bit the same on every rank, and
// exactly the host's sum (the inputs are small integers, so every order of fp32 additions
// agrees). Timing: the simulated run equals the compiler's prediction, and a longer message
// takes longer.
#include "compiler/all_reduce_lowering.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "lpu/sim/system_simulator.h"

namespace lockstep::compiler {
namespace {

float input_value(int rank, std::size_t element) { return static_cast<float>((rank + 1) * 100 + element % 97); }

void expect_sums(int ranks, std::int64_t bytes) {
  const SystemConfig system = load_system("groq-node");
  const AllReduceProgram ar(system, bytes, ranks);
  const Program& program = ar.program().programs.at(0);
  std::vector<std::unique_ptr<Chip>> owned;
  std::vector<Chip*> chips;
  for (int r = 0; r < ranks; ++r) {
    owned.push_back(std::make_unique<Chip>(system.chip));
    chips.push_back(owned.back().get());
  }
  // Every stripe of the input holds elements numbered in stripe order.
  for (int r = 0; r < ranks; ++r) {
    std::size_t element = 0;
    for (const HostBuffer& b : program.buffers)
      if (b.is_input) {
        std::vector<float> values(b.elements);
        for (float& v : values) v = input_value(r, element++);
        std::vector<std::uint8_t> bytes_in(values.size() * 4);
        std::memcpy(bytes_in.data(), values.data(), bytes_in.size());
        chips[r]->write_buffer(b, bytes_in);
      }
  }
  SystemSimulator simulator(system);
  const SystemResult result = simulator.run(ar.program(), SimulationMode::Functional, chips);
  EXPECT_EQ(result.cycles, ar.cycles());
  for (int r = 0; r < ranks; ++r) {
    std::size_t element = 0;
    for (const HostBuffer& b : program.buffers)
      if (!b.is_input) {
        const std::vector<std::uint8_t> out = chips[r]->read_buffer(b);
        for (std::uint32_t i = 0; i < b.elements; ++i, ++element) {
          float expected = 0.0f;
          for (int q = 0; q < ranks; ++q) expected += input_value(q, element);
          float got;
          std::memcpy(&got, out.data() + 4 * i, 4);
          ASSERT_EQ(got, expected) << "rank " << r << " element " << element << " of " << ranks << " ranks";
        }
      }
  }
}

TEST(AllReduceLoweringTest, EveryRankEndsWithTheSum) {
  expect_sums(2, 320 * 3);
  expect_sums(4, 320 * 9 + 4);  // a partial last vector
  expect_sums(8, 320 * 20);
}

TEST(AllReduceLoweringTest, TimingFollowsTheMessage) {
  const SystemConfig system = load_system("groq-node");
  const AllReduceProgram small(system, 320, 8), large(system, 320 * 64, 8);
  EXPECT_EQ(small.vectors(), 1u);
  EXPECT_EQ(large.vectors(), 64u);
  EXPECT_GT(large.cycles(), small.cycles());
  // At least one link's occupancy per vector plus one transfer per step.
  const Topology topology(system);
  EXPECT_GE(large.cycles(), 64 * topology.link_occupancy_cycles(320) + 3 * topology.link_transfer_cycles(320));
}

TEST(AllReduceLoweringTest, BadRequestsAreOneSentence) {
  const SystemConfig system = load_system("groq-node");
  EXPECT_THROW(AllReduceProgram(system, 320, 3), Error);
  EXPECT_THROW(AllReduceProgram(system, 320, 16), Error);
  EXPECT_THROW(AllReduceProgram(system, 0, 8), Error);
  EXPECT_THROW(AllReduceProgram(system, std::int64_t{1} << 40, 8), Error);
}

}  // namespace
}  // namespace lockstep::compiler
