// lockstep bench [MODEL] [-p 512] [-n 128] [-r 3] [--json]: prompt and decode speed of a target,
// inter-token latencies, and how close decode comes to the memory-bandwidth roofline (the bytes
// one decode step must stream over this machine's measured read bandwidth).
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command_registry.h"
#include "cli/model_argument.h"
#include "cli/target_option.h"
#include "core/error.h"
#include "cpu/isa.h"
#include "cpu/read_bandwidth.h"
#include "cpu/thread_team.h"
#include "runtime/benchmark.h"

namespace lockstep::cli {
namespace {

struct BenchArgs {
  std::string model;
  TargetOptions target;
  runtime::BenchmarkOptions bench;
  bool json = false;
  double bandwidth_gbps = 0;  // > 0: use this instead of measuring, GB/s
  int bandwidth_repetitions = 5;
  bool prompt_given = false, decode_given = false;  // -p / -n on the command line
};

// Without -p / -n, the defaults (512 + 128) shrink to 4/5 + 1/5 of a shorter trained context,
// so that a bare `lockstep bench` runs on any model (the embedded one holds 256 positions).
void fit_defaults(BenchArgs& a, const model::Model& m) {
  const auto ctx = m.config.n_ctx_train;
  auto& b = a.bench;
  if (a.prompt_given || a.decode_given || b.prompt_tokens + b.decode_tokens <= ctx || ctx < 2) return;
  b.decode_tokens = std::max<std::int64_t>(1, ctx / 5);
  b.prompt_tokens = ctx - b.decode_tokens;
  fmt::print(stderr, "{} has a context of {} tokens: benchmarking -p {} -n {}\n", m.source, ctx,
             b.prompt_tokens, b.decode_tokens);
}

// Below this share of their cores, the bandwidth threads were crowded out by other processes.
constexpr double kBusyShare = 0.8;

// Threads the target computes with (the bandwidth is measured with as many).
int target_threads(const TargetOptions& t) {
  if (t.target == "cpu") return t.threads > 0 ? t.threads : static_cast<int>(cpu::available_cores().size());
  return 1;  // the reference pass and the simulator run on the calling thread
}

std::string target_isa(const TargetOptions& t) {
  if (t.target != "cpu") return "none";
  const auto isa = cpu::parse_isa(t.isa);
  return isa ? cpu::isa_name(*isa) : t.isa;
}

void check_arguments(const BenchArgs& a, const model::Model& m) {
  const auto& b = a.bench;
  if (b.prompt_tokens < 1) fail("-p must be at least 1 prompt token, got {}", b.prompt_tokens);
  if (b.decode_tokens < 1) fail("-n must be at least 1 decoded token, got {}", b.decode_tokens);
  if (b.repetitions < 1) fail("-r must be at least 1 repetition, got {}", b.repetitions);
  if (b.warmup < 0) fail("--warmup cannot be negative, got {}", b.warmup);
  const auto need = b.prompt_tokens + b.decode_tokens;
  if (need > m.config.n_ctx_train)
    fail("-p {} plus -n {} needs {} positions, but {} has a context of {} tokens", b.prompt_tokens,
         b.decode_tokens, need, m.source, m.config.n_ctx_train);
  const auto& t = a.target.target;
  if (t != "cpu" && t != "ref" && t != "lpu-sim")
    fail("--target '{}' must be cpu, ref or lpu-sim", t);
  if (a.bandwidth_gbps < 0) fail("--bandwidth must be positive, got {} GB/s", a.bandwidth_gbps);
}

void bench(BenchArgs& a) {
  auto model = open_model(a.model, /*quiet=*/a.json);
  fit_defaults(a, *model);
  check_arguments(a, *model);
  const int threads = target_threads(a.target);
  const std::int64_t n_ctx = a.bench.prompt_tokens + a.bench.decode_tokens;

  // The bandwidth first, before the backend exists: its threads (which may spin while idle)
  // must not compete with the measurement.
  cpu::ReadBandwidth bandwidth;
  if (a.bandwidth_gbps > 0) {
    bandwidth.bytes_per_second = a.bandwidth_gbps * 1e9;
    bandwidth.threads = threads;
  } else {
    cpu::ReadBandwidthOptions bw;
    bw.threads = threads;
    bw.repetitions = a.bandwidth_repetitions;
    fmt::print(stderr, "measuring read bandwidth: {} thread{}, {} MiB buffer, {} passes\n",
               threads, threads == 1 ? "" : "s", cpu::default_read_buffer_bytes() >> 20,
               bw.repetitions);
    bandwidth = cpu::measure_read_bandwidth(bw);
    if (bandwidth.cpu_share < kBusyShare)
      fmt::print(stderr,
                 "warning: the machine is busy: the measuring threads had {:.0f}% of their cores, "
                 "so the bandwidth (and the speeds) read low ({:.2f} GB/s while they ran)\n",
                 bandwidth.cpu_share * 100, bandwidth.scheduled_bytes_per_second / 1e9);
  }

  runtime::LpuBackend* lpu = nullptr;
  auto backend = make_backend(a.target, model, n_ctx, &lpu);

  // On a terminal the progress line rewrites itself (at most ten times a second); in a log it
  // is one line per repetition.
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  const std::int64_t all_tokens = a.bench.prompt_tokens + a.bench.decode_tokens;
  auto last_print = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto progress = [&](int i, int, bool warmup, std::int64_t done) {
    if (!terminal && done != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (terminal && done != 0 && done != all_tokens && now - last_print < std::chrono::milliseconds(100))
      return;
    last_print = now;
    const auto line = warmup ? fmt::format("warm-up {}/{}", i + 1, a.bench.warmup)
                             : fmt::format("repetition {}/{}", i - a.bench.warmup + 1,
                                           a.bench.repetitions);
    const auto text = fmt::format("{} (p = {}, n = {}): {}/{} tokens", line,
                                  a.bench.prompt_tokens, a.bench.decode_tokens, done, all_tokens);
    if (terminal) fmt::print(stderr, "\r{}  ", text);
    else fmt::print(stderr, "{}\n", text);
    std::fflush(stderr);
  };
  const auto result = runtime::run_benchmark(*backend, a.bench, progress);
  if (terminal) fmt::print(stderr, "\n");
  const auto roof = runtime::decode_roofline(*model, a.bench.prompt_tokens, a.bench.decode_tokens,
                                             bandwidth.bytes_per_second);
  const double achieved = roof.tokens_per_second > 0 ? result.decode_tokens_per_second / roof.tokens_per_second : 0;
  const std::string mix = runtime::describe_type_mix(*model);
  const std::string isa = target_isa(a.target);

  if (a.json) {
    nlohmann::json reps = nlohmann::json::array();
    for (const auto& r : result.repetitions)
      reps.push_back({{"prompt_seconds", r.prompt_seconds},
                      {"decode_seconds", r.decode_seconds},
                      {"prompt_tokens_per_second", r.prompt_tokens_per_second},
                      {"decode_tokens_per_second", r.decode_tokens_per_second},
                      {"itl_p50_ms", r.itl_p50_ms},
                      {"itl_p99_ms", r.itl_p99_ms},
                      {"itl_max_ms", r.itl_max_ms}});
    nlohmann::json out = {
        {"model",
         {{"source", model->source},
          {"name", model->config.name},
          {"architecture", model->config.architecture_name},
          {"type_mix", mix},
          {"weight_bytes", model->weight_bytes()},
          {"n_ctx_train", model->config.n_ctx_train}}},
        {"parameters",
         {{"target", a.target.target},
          {"threads", threads},
          {"isa", isa},
          {"prompt_tokens", a.bench.prompt_tokens},
          {"decode_tokens", a.bench.decode_tokens},
          {"repetitions", a.bench.repetitions},
          {"warmup", a.bench.warmup},
          {"prefill_chunk", a.bench.prefill_chunk},
          {"seed", a.bench.seed}}},
        {"bandwidth",
         {{"bytes_per_second", bandwidth.bytes_per_second},
          {"gb_per_second", bandwidth.bytes_per_second / 1e9},
          {"measured", a.bandwidth_gbps <= 0},
          {"threads", bandwidth.threads},
          {"samples_bytes_per_second", bandwidth.samples},
          {"buffer_bytes", bandwidth.buffer_bytes},
          {"pinned", bandwidth.pinned},
          {"cpu_share", bandwidth.cpu_share},
          {"scheduled_bytes_per_second", bandwidth.scheduled_bytes_per_second},
          {"huge_pages", bandwidth.huge_pages},
          {"isa", a.bandwidth_gbps > 0 ? "none" : cpu::isa_name(bandwidth.isa)}}},
        {"results",
         {{"prompt_tokens_per_second", result.prompt_tokens_per_second},
          {"decode_tokens_per_second", result.decode_tokens_per_second},
          {"itl_p50_ms", result.itl_p50_ms},
          {"itl_p99_ms", result.itl_p99_ms},
          {"itl_max_ms", result.itl_max_ms},
          {"repetitions", reps}}},
        {"roofline",
         {{"position", roof.position},
          {"weight_bytes", roof.weight_bytes},
          {"kv_bytes", roof.kv_bytes},
          {"bytes_per_token", roof.bytes_per_token},
          {"tokens_per_second", roof.tokens_per_second},
          {"achieved_fraction", achieved}}}};
    fmt::print("{}\n", out.dump(2));
    return;
  }

  const double mb = 1e6;
  fmt::print("model           {} ({}, {:.1f} MB of weights)\n", model->source,
             model->config.architecture_name, model->weight_bytes() / mb);
  fmt::print("type mix        {}\n", mix);
  fmt::print("target          {}, {} thread{}, ISA {}\n", a.target.target, threads,
             threads == 1 ? "" : "s", isa);
  if (a.bandwidth_gbps > 0)
    fmt::print("read bandwidth  {:.2f} GB/s (given with --bandwidth)\n", bandwidth.bytes_per_second / 1e9);
  else
    fmt::print("read bandwidth  {:.2f} GB/s ({} thread{}{}, median of {}, {} MiB buffer{}, {:.0f}% "
               "of the cores' time)\n",
               bandwidth.bytes_per_second / 1e9, bandwidth.threads,
               bandwidth.threads == 1 ? "" : "s", bandwidth.pinned ? " pinned" : "",
               bandwidth.samples.size(), bandwidth.buffer_bytes >> 20,
               bandwidth.huge_pages ? ", huge pages" : "", bandwidth.cpu_share * 100);
  fmt::print("bytes / token   {:.2f} MB (weights {:.2f} MB + f16 KV cache {:.3f} MB at position {})\n",
             roof.bytes_per_token / mb, roof.weight_bytes / mb, roof.kv_bytes / mb, roof.position);
  fmt::print("prompt          {:.1f} tok/s (p = {}, chunks of {}, median of {})\n",
             result.prompt_tokens_per_second, a.bench.prompt_tokens, a.bench.prefill_chunk,
             a.bench.repetitions);
  fmt::print("decode          {:.1f} tok/s (n = {})\n", result.decode_tokens_per_second,
             a.bench.decode_tokens);
  fmt::print("inter-token     P50 {:.3f} ms, P99 {:.3f} ms, max {:.3f} ms\n", result.itl_p50_ms,
             result.itl_p99_ms, result.itl_max_ms);
  fmt::print("roofline        {:.1f} tok/s (bandwidth / bytes per token)\n", roof.tokens_per_second);
  fmt::print("achieved        {:.1f} % of the roofline\n", achieved * 100);
}

void add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand(
      "bench", "prompt and decode speed, inter-token latency, and the memory-bandwidth roofline");
  add_model_argument(*cmd, args->model);
  add_target_options(*cmd, args->target);
  auto* p = cmd->add_option("-p,--prompt-tokens", args->bench.prompt_tokens,
                            "prompt length in tokens (random ids from a fixed seed; default "
                            "shrinks to fit a shorter context)")
                 ->capture_default_str();
  auto* n = cmd->add_option("-n,--decode-tokens", args->bench.decode_tokens,
                            "tokens to decode after it")
                 ->capture_default_str();
  cmd->add_option("-r,--repetitions", args->bench.repetitions,
                  "timed repetitions (figures are their medians)")
      ->capture_default_str();
  cmd->add_option("--warmup", args->bench.warmup, "untimed repetitions first")->capture_default_str();
  cmd->add_option("--seed", args->bench.seed, "seed of the prompt's token ids")->capture_default_str();
  cmd->add_option("--bandwidth", args->bandwidth_gbps,
                  "read bandwidth in GB/s for the roofline (default: measure it)");
  cmd->add_flag("--json", args->json, "print one JSON object with every figure");
  cmd->callback([args, p, n] {
    args->prompt_given = p->count() > 0;
    args->decode_given = n->count() > 0;
    bench(*args);
  });
}

}  // namespace

LOCKSTEP_COMMAND(25, add_bench_command);

}  // namespace lockstep::cli
