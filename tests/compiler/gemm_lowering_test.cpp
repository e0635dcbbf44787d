#include "compiler/gemm_lowering.h"

#include <gtest/gtest.h>

#include "support/lpu_chip.h"

#include <chrono>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program_check.h"

namespace lockstep::compiler {
namespace {


TEST(GemmLoweringTest, PredictsCyclesForALargeInt8Gemm) {
  for (auto [m, k, n, type] : {std::tuple{256, 1280, 1280, ElementType::I8}, std::tuple{1, 1280, 1280, ElementType::I8},
                               std::tuple{2048, 2048, 2048, ElementType::I8}, std::tuple{2048, 2048, 2048, ElementType::F16}}) {
    const auto start = std::chrono::steady_clock::now();
    GemmProgram g(lockstep::testing::test_system(), {m, k, n, type});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double peak = type == ElementType::I8 ? 4.0 * 320 * 320 : 2.0 * 320 * 160;  // MACs per cycle
    std::printf("[measured] gemm %dx%dx%d: %llu cycles, %.1f%% of MXM peak, %llu instructions, %llu iterations, compile %.2f s\n",
                m, k, n, (unsigned long long)g.program().predicted_cycles,
                100.0 * g.macs() / (peak * g.program().predicted_cycles),
                (unsigned long long)g.program().instruction_count(),
                (unsigned long long)g.program().iteration_count(), secs);
    EXPECT_GT(g.program().predicted_cycles, 0u);
    check_program(g.program(), lockstep::testing::test_system().chip, Floorplan(lockstep::testing::test_system().chip));
    EXPECT_EQ(g.program().predicted_cycles, program_end_cycle(g.program(), lockstep::testing::test_system().chip));
  }
}

}  // namespace
}  // namespace lockstep::compiler
