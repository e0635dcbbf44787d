// Options shared by the commands that target the simulated LPU (compile, simulate): the system
// preset with its overrides, and a GEMM shape.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "compiler/gemm_lowering.h"
#include "lpu/arch/system_config.h"

namespace lockstep::cli {

struct LpuOptions {
  std::string system = "lpu-v1";
  std::vector<std::string> overrides;  // "chip.clock_hz=1e9"
  std::string gemm;                    // "M,K,N"
  std::string dtype = "int8";
  int threads = 0;                     // -t: threads that schedule chip programs (0: one per core)
};

// --weights for the commands that compile a model onto the LPU: the TruePoint precision policy
// (compiler/precision.h), kept as text until the command parses it.
CLI::Option* add_weight_precision_option(CLI::App& command, std::string& policy);

// -t,--threads for the commands that compile onto a system of chips.
void add_compile_threads_option(CLI::App& command, LpuOptions& options);

void add_lpu_options(CLI::App& command, LpuOptions& options);

lpu::SystemConfig load_lpu_system(const LpuOptions& options);

// Parses --gemm and --dtype; throws lockstep::Error with the offending text.
compiler::GemmShape parse_gemm(const LpuOptions& options);

// "12,345 cycles = 13.7 us"
std::string cycles_and_time(std::uint64_t cycles, double clock_hz);

}  // namespace lockstep::cli
