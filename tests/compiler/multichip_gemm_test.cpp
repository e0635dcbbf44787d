// A GEMM split over 4 chips of a node, both ways, run functionally on the system simulator: C
// equals the host's exact integer product (int8; the inner split sums its int32 partials in
// fp32, exact while every partial stays below 2^24), and the timing run equals the prediction.
#include "compiler/multichip_gemm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>

#include "lpu/sim/system_simulator.h"

namespace lockstep::compiler {
namespace {

void expect_exact(GemmSplit split) {
  const SystemConfig system = load_system("groq-node");
  const GemmShape shape{24, 700, 650, ElementType::I8};  // ragged: neither K nor N divides evenly
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(-100, 100);
  std::vector<std::uint8_t> a(shape.m * shape.k), w(shape.n * shape.k);
  for (auto& x : a) x = static_cast<std::uint8_t>(static_cast<std::int8_t>(value(rng)));
  for (auto& x : w) x = static_cast<std::uint8_t>(static_cast<std::int8_t>(value(rng)));
  SystemGemm gemm(system, shape, 4, split);
  gemm.set_inputs(a, w);
  std::vector<std::unique_ptr<Chip>> owned;
  std::vector<Chip*> chips;
  for (std::size_t i = 0; i < gemm.program().chips.size(); ++i) {
    owned.push_back(std::make_unique<Chip>(system.chip));
    chips.push_back(owned.back().get());
  }
  SystemSimulator simulator(system);
  load_system_memory(gemm.program(), chips);
  EXPECT_EQ(simulator.run(gemm.program(), SimulationMode::Functional, chips).cycles, gemm.cycles());
  const std::vector<std::uint8_t> c =
      gemm.output([&](std::size_t chip, const HostBuffer& b) { return chips[chip]->read_buffer(b); });
  for (std::int64_t i = 0; i < shape.m; ++i)
    for (std::int64_t j = 0; j < shape.n; ++j) {
      std::int64_t expected = 0;
      for (std::int64_t k = 0; k < shape.k; ++k)
        expected += std::int64_t{static_cast<std::int8_t>(a[i * shape.k + k])} * static_cast<std::int8_t>(w[j * shape.k + k]);
      std::int64_t got;
      if (split == GemmSplit::Columns) {
        std::int32_t v;
        std::memcpy(&v, &c[(i * shape.n + j) * 4], 4);
        got = v;
      } else {
        float v;
        std::memcpy(&v, &c[(i * shape.n + j) * 4], 4);
        got = static_cast<std::int64_t>(v);
      }
      ASSERT_EQ(got, expected) << gemm_split_name(split) << " C[" << i << "][" << j << "]";
    }
}

TEST(MultichipGemmTest, SplitByColumnsIsExact) { expect_exact(GemmSplit::Columns); }
TEST(MultichipGemmTest, SplitByInnerDimensionIsExact) { expect_exact(GemmSplit::Inner); }

TEST(MultichipGemmTest, ChipsMustBeAPowerOfTwoInOneNode) {
  const SystemConfig system = load_system("groq-node");
  EXPECT_THROW(SystemGemm(system, {64, 640, 640, ElementType::I8}, 3, GemmSplit::Columns), Error);
  EXPECT_THROW(SystemGemm(system, {64, 640, 640, ElementType::I8}, 16, GemmSplit::Inner), Error);
}

}  // namespace
}  // namespace lockstep::compiler
