#include "compiler/decode_lowering.h"

#include <gtest/gtest.h>

#include "support/lpu_chip.h"

#include <chrono>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program_check.h"

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

}  // namespace
}  // namespace lockstep::compiler
