#include "cli/lpu_options.h"

#include <fmt/format.h>

#include <charconv>

#include "core/error.h"

namespace lockstep::cli {

void add_lpu_options(CLI::App& command, LpuOptions& o) {
  command.add_option("--system", o.system, "hardware preset (configs/systems) or a .yaml file")
      ->capture_default_str();
  command.add_option("--set", o.overrides,
                     "override one value of the preset, e.g. --set chip.clock_hz=1e9 (repeatable)");
  command.add_option("--gemm", o.gemm, "a plain matrix multiply M,K,N instead of a model");
  command.add_option("--dtype", o.dtype, "GEMM element type: int8 or fp16")->capture_default_str();
  add_compile_threads_option(command, o);
}

CLI::Option* add_weight_precision_option(CLI::App& command, std::string& policy) {
  return command
      .add_option("--weights", policy,
                  "matmul weight precision: int8 or fp16, for all projections or with "
                  "exceptions, e.g. int8,output=fp16,attn_v=fp16 (attn_q attn_k attn_v "
                  "attn_output ffn_gate ffn_up ffn_down output)")
      ->capture_default_str();
}

void add_compile_threads_option(CLI::App& command, LpuOptions& o) {
  command.add_option("-t,--threads", o.threads,
                     "threads that schedule a system's chip programs (0: one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
}

lpu::SystemConfig load_lpu_system(const LpuOptions& o) {
  std::vector<lpu::SystemOverride> overrides;
  for (const auto& text : o.overrides) overrides.push_back(lpu::parse_system_override(text));
  return lpu::load_system(o.system, overrides);
}

compiler::GemmShape parse_gemm(const LpuOptions& o) {
  compiler::GemmShape shape;
  std::int64_t dims[3] = {0, 0, 0};
  std::size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    const std::size_t comma = i < 2 ? o.gemm.find(',', start) : o.gemm.size();
    if (comma == std::string::npos) fail("--gemm '{}' must be three numbers M,K,N", o.gemm);
    const char* first = o.gemm.data() + start;
    const char* last = o.gemm.data() + comma;
    auto [end, ec] = std::from_chars(first, last, dims[i]);
    if (ec != std::errc() || end != last || dims[i] < 1)
      fail("--gemm '{}' must be three positive numbers M,K,N", o.gemm);
    start = comma + 1;
  }
  shape.m = dims[0];
  shape.k = dims[1];
  shape.n = dims[2];
  if (o.dtype == "int8") shape.type = lpu::ElementType::I8;
  else if (o.dtype == "fp16") shape.type = lpu::ElementType::F16;
  else fail("--dtype '{}' must be int8 or fp16", o.dtype);
  return shape;
}

std::string cycles_and_time(std::uint64_t cycles, double clock_hz) {
  const double us = cycles / clock_hz * 1e6;
  return us >= 1000 ? fmt::format("{} cycles = {:.3f} ms", cycles, us / 1000)
                    : fmt::format("{} cycles = {:.2f} us", cycles, us);
}

}  // namespace lockstep::cli
