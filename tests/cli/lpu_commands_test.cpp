// The LPU commands as a user runs them: compile, simulate and run --target lpu-sim.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "support/paths.h"
#include "support/run_command.h"

namespace lockstep {
namespace {

using testing::run_lockstep;

TEST(LpuCommands, CompileGemmPredictsCyclesAndThroughput) {
  auto r = run_lockstep({"compile", "--gemm", "256,640,640"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cycles"), std::string::npos);
  EXPECT_NE(r.out.find("of the published peak"), std::string::npos);
}

TEST(LpuCommands, CompilePrintsTheRoofline) {
  auto r = run_lockstep({"compile", "--gemm", "1,2560,2560"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("of the roofline"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("weights into the MXM binds"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("busiest queues"), std::string::npos) << r.out;
}

TEST(LpuCommands, AllReduceAndMultichipGemmOnANode) {
  auto ar = run_lockstep({"compile", "--all-reduce", "320,32768", "--system", "groq-node"});
  ASSERT_EQ(ar.exit_code, 0) << ar.err;
  EXPECT_NE(ar.out.find("over 8 chips"), std::string::npos) << ar.out;
  EXPECT_NE(ar.out.find("busbw"), std::string::npos) << ar.out;
  auto gemm = run_lockstep({"compile", "--gemm", "64,1280,2560", "--system", "groq-node", "--tensor-parallel", "2"});
  ASSERT_EQ(gemm.exit_code, 0) << gemm.err;
  EXPECT_NE(gemm.out.find("split by columns"), std::string::npos) << gemm.out;
  EXPECT_NE(gemm.out.find("split by inner"), std::string::npos) << gemm.out;
  EXPECT_NE(gemm.out.find("faster "), std::string::npos) << gemm.out;
  auto lone = run_lockstep({"compile", "--all-reduce", "320"});
  EXPECT_NE(lone.exit_code, 0);
  EXPECT_NE(lone.err.find("needs a system of chips"), std::string::npos) << lone.err;
}

TEST(LpuCommands, DumpAfterGraphListsTheOpsTheLoweringTakes) {
  auto r = run_lockstep({"compile", "--model-preset", "tiny-qwen3", "--dump-after", "graph"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("after graph"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.0.attn_q_norm"), std::string::npos) << r.out;  // Qwen3's q norm
  EXPECT_NE(r.out.find("head_norm"), std::string::npos) << r.out;
  auto bad = run_lockstep({"compile", "--dump-after", "parsing"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("must be graph, precision, placement or schedule"), std::string::npos) << bad.err;
}

TEST(LpuCommands, SimulatedGemmIsExactAgainstTheHost) {
  auto r = run_lockstep({"simulate", "--gemm", "64,640,320", "--functional"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("prediction     "), std::string::npos);
  EXPECT_NE(r.out.find(": equal"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exact"), std::string::npos) << r.out;
}

TEST(LpuCommands, CompileSaysHowManyChipsABigModelNeeds) {
  auto r = run_lockstep({"compile", "--model-preset", "llama-3.2-1b", "--weights", "int8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("partition"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("why "), std::string::npos) << r.out;
}

TEST(LpuCommands, CompilePartitionsLlama2_70BAcrossChipsAndObeysForcedPlans) {
  auto r = run_lockstep({"compile", "--model-preset", "llama-2-70b", "--weights", "int8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("x 8-way tensor parallel = "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("embedding"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("LM head"), std::string::npos) << r.out;
  auto forced = run_lockstep({"compile", "--model-preset", "llama-3.1-8b", "--stages", "8",
                              "--tensor-parallel", "8"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("8 stages x 8-way tensor parallel = 64 chips"), std::string::npos)
      << forced.out;
  auto bad = run_lockstep({"compile", "--model-preset", "llama-2-70b", "--stages", "10", "--tensor-parallel", "8"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("8-way tensor parallel needs at least"), std::string::npos) << bad.err;
}

TEST(LpuCommands, SimulateOnASystemReportsTokenLatencyPercentiles) {
  auto r = run_lockstep({"simulate", "--model-preset", "tiny", "--system", "groq-node", "--tokens", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("5 decode tokens in timing mode (every step is the same program)"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("in 1 synchronous domain"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(equal: one clock, no jitter)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("every machine rule and link rule"), std::string::npos) << r.out;
  auto functional = run_lockstep({"simulate", "--model-preset", "tiny", "--system", "groq-node", "--functional"});
  EXPECT_NE(functional.exit_code, 0);
  EXPECT_NE(functional.err.find("timing mode only"), std::string::npos) << functional.err;
}

TEST(LpuCommands, CompileOnASystemPredictsSpeedTtftAndBatchTable) {
  auto r = run_lockstep({"compile", "--model-preset", "tiny", "--system", "groq-rack", "--stages", "2",
                         "--batch", "1,2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 stages x "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("per user (every step takes the same cycles)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TTFT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens/s/system"), std::string::npos) << r.out;
}

TEST(LpuCommands, SimulateTraceOfASystemHasAProcessPerChip) {
  const std::string path = testing::scratch_dir("lpu-commands") + "/system.json";
  auto r = run_lockstep({"simulate", "--model-preset", "tiny", "--system", "groq-node", "--tokens", "1",
                         "--trace", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(path);
  const nlohmann::json trace = nlohmann::json::parse(in);
  std::set<int> processes;
  for (const auto& e : trace["traceEvents"])
    if (e.value("ph", "") == "M" && e.value("name", "") == "process_name") processes.insert(e["pid"].get<int>());
  EXPECT_EQ(processes.size(), 8u);  // the tiny shape over the node's 8 chips
}

TEST(LpuCommands, RunOnTheSimulatedChipPrintsTheCpuText) {
  auto cpu = run_lockstep({"run", "-p", "And God said", "-n", "24", "--seed", "3"});
  auto lpu = run_lockstep({"run", "-p", "And God said", "-n", "24", "--seed", "3", "--target", "lpu-sim"});
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  ASSERT_EQ(lpu.exit_code, 0) << lpu.err;
  EXPECT_EQ(cpu.out, lpu.out);
  EXPECT_NE(lpu.err.find("us per token"), std::string::npos) << lpu.err;
}

TEST(LpuCommands, AssemblyOutputReadsBack) {
  auto r = run_lockstep({"compile", "--gemm", "8,320,320", "--emit", "asm"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(".predicted_cycles"), std::string::npos);
  EXPECT_NE(r.out.find("lw"), std::string::npos);
}

// A program file runs alone: simulate needs neither the model nor the compiler, only what the
// program records (its system, weights and host interface).
TEST(LpuCommands, CompiledProgramFileSimulatesAlone) {
  const std::string bin = testing::scratch_dir("program") + "/step.bin";
  auto compiled = run_lockstep({"compile", "-o", bin, "--prefill", "0"});  // the decode step only
  ASSERT_EQ(compiled.exit_code, 0) << compiled.err;
  auto r = run_lockstep({"simulate", bin, "--token-ids", "1,40,50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(from " + bin + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": equal"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ran            3 tokens at positions 0..2, 1 per run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top logits     id "), std::string::npos) << r.out;
  auto alone = run_lockstep({"simulate", bin});  // token 0 at position 0
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_NE(alone.out.find("(position 0)"), std::string::npos) << alone.out;
  // Run twice, the same bits: the printed logits agree.
  auto again = run_lockstep({"simulate", bin, "--token-ids", "1,40,50"});
  EXPECT_EQ(r.out.substr(r.out.find("top logits")), again.out.substr(again.out.find("top logits")));
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"simulate", bin, "--token-ids", "1,x"},
           {"simulate", bin, "--token-ids", "999999"},
           {"simulate", bin, "--model-preset", "tiny"}}) {
    auto bad = run_lockstep(args);
    EXPECT_NE(bad.exit_code, 0) << args[2];
    EXPECT_NE(bad.err.find("error:"), std::string::npos) << bad.err;
    EXPECT_EQ(bad.err.find("terminate"), std::string::npos) << bad.err;
  }
}

TEST(LpuCommands, BadInputIsOneSentence) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"compile", "--gemm", "12,x,4"},
           {"compile", "--system", "no-such-chip", "--gemm", "8,8,8"},
           {"compile", "--gemm", "8,8,8", "--set", "chip.clock_hz=-1"},
           {"simulate", "--model-preset", "tiny", "--functional"},
           {"run", "-p", "x", "--target", "gpu"}}) {
    auto r = run_lockstep(args);
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace lockstep
