// The LPU roofline: every bound is a lower bound of the compiled run (no schedule beats it), the
// counts follow the work (a GEMM's weights, its MXM passes), and the binding resource is the one
// the workload's shape says: a large GEMM is bound by the MXM's arithmetic, a matrix-vector
// product by streaming its weights, a decode step of a tiny model by its dependency chain.
#include "lpu/program/program_roofline.h"

#include <gtest/gtest.h>

#include "compiler/decode_lowering.h"
#include "compiler/gemm_lowering.h"
#include "model/model_loader.h"
#include "support/lpu_chip.h"

namespace lockstep::lpu {
namespace {

const RooflineBound& bound(const Roofline& r, const std::string& resource) {
  for (const RooflineBound& b : r.bounds)
    if (b.resource == resource) return b;
  static const RooflineBound none;
  ADD_FAILURE() << "no bound for " << resource;
  return none;
}

void expect_lower_bounds(const Roofline& r) {
  for (const RooflineBound& b : r.bounds)
    EXPECT_LE(b.cycles, r.cycles) << b.resource << " claims more cycles than the run took";
  EXPECT_GT(r.fraction(), 0.0);
  EXPECT_LE(r.fraction(), 1.0);
}

Roofline gemm_roofline(std::int64_t m, std::int64_t k, std::int64_t n) {
  const compiler::GemmProgram gemm(lockstep::testing::test_system(), {m, k, n, ElementType::I8});
  return program_roofline(gemm.program(), lockstep::testing::test_chip(), lockstep::testing::test_floorplan());
}

// 1280 x 1280 x 1280 int8: W is 1,280 rows of 4 vectors (5,120 vectors over 4 planes x 16 rows
// per cycle = 80 cycles each time the program streams it); every row of A passes each of the
// 4 x 4 weight blocks (20,480 passes over 4 planes = 5,120 cycles, plus one cycle per install).
// The schedule reaches 95% of that (docs/lpu.md).
TEST(ProgramRooflineTest, LargeGemmIsBoundByTheMxmArithmetic) {
  const Roofline r = gemm_roofline(1280, 1280, 1280);
  expect_lower_bounds(r);
  const std::uint64_t weights = bound(r, "weights into the MXM").cycles;
  EXPECT_GE(weights, 80u);
  EXPECT_EQ(weights % 80, 0u);
  const std::uint64_t installs = weights / 80 * 16;  // 16 blocks each time W streams
  EXPECT_EQ(bound(r, "MXM arithmetic").cycles, (20480 + installs + 3) / 4);
  EXPECT_EQ(r.binding().resource, "MXM arithmetic");
  EXPECT_GT(r.fraction(), 0.9);
}

// 1 x 2560 x 2560 int8: 2,560 rows of 8 vectors = 20,480 vectors, 320 cycles at 64 a cycle,
// against 64 passes of arithmetic.
TEST(ProgramRooflineTest, MatrixVectorProductIsBoundByItsWeights) {
  const Roofline r = gemm_roofline(1, 2560, 2560);
  expect_lower_bounds(r);
  EXPECT_EQ(bound(r, "weights into the MXM").cycles, 320u);
  EXPECT_EQ(r.binding().resource, "weights into the MXM");
}

// A decode step carries the compiler's dependency chain, which no schedule can beat and which
// binds a model this small (every resource bound is a few percent of the run).
TEST(ProgramRooflineTest, DecodeStepIsBoundByItsDependencyChain) {
  const model::ModelConfig config = model::load_model("")->config;
  const compiler::DecodeProgram d(config, nullptr, lockstep::testing::test_system(),
                                  {compiler::WeightPrecision::Int8, 128});
  const Roofline r = program_roofline(d.program(), lockstep::testing::test_chip(), lockstep::testing::test_floorplan());
  expect_lower_bounds(r);
  EXPECT_GT(d.program().dataflow_cycles, 0u);
  EXPECT_EQ(r.binding().resource, "dependency chain");
  EXPECT_EQ(r.binding().cycles, d.program().dataflow_cycles);
  ASSERT_FALSE(r.busiest.empty());
}

// A program without a compiler's chain (hand-written) has only resource bounds.
TEST(ProgramRooflineTest, HandWrittenProgramHasNoChainBound) {
  Program p;
  p.queues.resize(lockstep::testing::test_floorplan().queue_count());
  Instruction read;
  read.opcode = Opcode::Read;
  read.repeat = 88;
  p.queues[lockstep::testing::test_floorplan().mem_queue(0)].push_back(read);
  p.predicted_cycles = 110;
  const Roofline r = program_roofline(p, lockstep::testing::test_chip(), lockstep::testing::test_floorplan());
  for (const RooflineBound& b : r.bounds) EXPECT_NE(b.resource, "dependency chain");
  EXPECT_EQ(bound(r, "MEM issue").cycles, 1u);
  ASSERT_EQ(r.busiest.size(), 1u);
  EXPECT_EQ(r.busiest[0].name, "mem.w0");
  EXPECT_EQ(r.busiest[0].iterations, 88u);
}

}  // namespace
}  // namespace lockstep::lpu
