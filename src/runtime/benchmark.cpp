#include "runtime/benchmark.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "graph/step_graph.h"

namespace lockstep::runtime {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::int32_t argmax(std::span<const float> logits) {
  return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

BenchmarkRepetition run_once(Backend& backend, std::span<const std::int32_t> prompt,
                             const BenchmarkOptions& o, std::vector<float>& logits,
                             std::vector<std::int32_t>& decoded,
                             const std::function<void(std::int64_t)>& done) {
  BenchmarkRepetition r;
  const auto p = static_cast<std::int64_t>(prompt.size());
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t pos = 0; pos < p; pos += o.prefill_chunk) {
    const auto n = std::min(o.prefill_chunk, p - pos);
    backend.forward(prompt.subspan(static_cast<std::size_t>(pos), static_cast<std::size_t>(n)),
                    pos, logits, /*all_logits=*/false);
  }
  r.prompt_seconds = seconds_since(start);
  done(p);

  decoded.clear();
  r.inter_token_seconds.reserve(static_cast<std::size_t>(o.decode_tokens));
  for (std::int64_t i = 0; i < o.decode_tokens; ++i) {
    const auto step = std::chrono::steady_clock::now();
    const std::int32_t token = argmax(logits);
    backend.forward(std::span(&token, 1), p + i, logits, false);
    r.inter_token_seconds.push_back(seconds_since(step));
    decoded.push_back(token);
    done(p + i + 1);
  }
  for (double s : r.inter_token_seconds) r.decode_seconds += s;
  r.prompt_tokens_per_second = static_cast<double>(p) / r.prompt_seconds;
  r.decode_tokens_per_second = static_cast<double>(o.decode_tokens) / r.decode_seconds;
  r.itl_p50_ms = percentile(r.inter_token_seconds, 0.50) * 1e3;
  r.itl_p99_ms = percentile(r.inter_token_seconds, 0.99) * 1e3;
  r.itl_max_ms = percentile(r.inter_token_seconds, 1.0) * 1e3;
  return r;
}

}  // namespace

double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto n = samples.size();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  return samples[rank - 1];
}

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto n = samples.size();
  return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

BenchmarkResult run_benchmark(Backend& backend, const BenchmarkOptions& o,
                              const BenchmarkProgress& progress) {
  if (o.prompt_tokens < 1) fail("the prompt must be at least 1 token, got {}", o.prompt_tokens);
  if (o.decode_tokens < 1) fail("decode at least 1 token, got {}", o.decode_tokens);
  if (o.repetitions < 1) fail("run at least 1 repetition, got {}", o.repetitions);
  if (o.warmup < 0) fail("warm-up repetitions cannot be negative, got {}", o.warmup);
  if (o.prefill_chunk < 1) fail("prefill chunks must be at least 1 token, got {}", o.prefill_chunk);
  const std::int64_t n_ctx = backend.context_length();
  if (o.prompt_tokens + o.decode_tokens > n_ctx)
    fail("a prompt of {} tokens plus {} decoded tokens needs {} positions, but the context holds "
         "{}",
         o.prompt_tokens, o.decode_tokens, o.prompt_tokens + o.decode_tokens, n_ctx);

  const auto n_vocab = backend.model().config.n_vocab;
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<std::int32_t> pick(0, static_cast<std::int32_t>(n_vocab - 1));
  std::vector<std::int32_t> prompt(static_cast<std::size_t>(o.prompt_tokens));  // [p] token ids
  for (auto& t : prompt) t = pick(rng);
  std::vector<float> logits(static_cast<std::size_t>(n_vocab));  // [n_vocab] fp32, last position

  BenchmarkResult result;
  result.options = o;
  const int total = o.warmup + o.repetitions;
  for (int i = 0; i < total; ++i) {
    const bool warmup = i < o.warmup;
    auto done = [&](std::int64_t tokens) {
      if (progress) progress(i, total, warmup, tokens);
    };
    done(0);
    auto r = run_once(backend, prompt, o, logits, result.decoded, done);
    if (!warmup) result.repetitions.push_back(std::move(r));
  }
  auto across = [&](double BenchmarkRepetition::*field) {
    std::vector<double> v;
    for (const auto& r : result.repetitions) v.push_back(r.*field);
    return median(std::move(v));
  };
  result.prompt_tokens_per_second = across(&BenchmarkRepetition::prompt_tokens_per_second);
  result.decode_tokens_per_second = across(&BenchmarkRepetition::decode_tokens_per_second);
  result.itl_p50_ms = across(&BenchmarkRepetition::itl_p50_ms);
  result.itl_p99_ms = across(&BenchmarkRepetition::itl_p99_ms);
  result.itl_max_ms = across(&BenchmarkRepetition::itl_max_ms);
  return result;
}

DecodeRoofline decode_roofline(const model::Model& model, std::int64_t prompt_tokens,
                               std::int64_t decode_tokens, double bandwidth) {
  graph::WeightTypes types;
  for (const auto& [name, t] : model.tensors) types.by_name[name] = t.type;
  types.kv_type = numerics::TensorType::F16;
  DecodeRoofline r;
  r.position = prompt_tokens + (decode_tokens - 1) / 2;
  const auto g = graph::build_step_graph(model.config, graph::StepShape{1, r.position}, types);
  // Graph::weight_bytes already charges the embedding table one row per token (a decode step
  // looks up one row), and a tied output matrix whole (the LM head reads all of it).
  r.weight_bytes = g.weight_bytes();
  r.kv_bytes = g.kv_bytes_read();
  r.bytes_per_token = r.weight_bytes + r.kv_bytes;
  r.bandwidth = bandwidth;
  r.tokens_per_second = r.bytes_per_token > 0 ? bandwidth / static_cast<double>(r.bytes_per_token) : 0;
  return r;
}

std::string describe_type_mix(const model::Model& model) {
  std::map<std::string, std::uint64_t> bytes;
  std::uint64_t total = 0;
  for (const auto& [name, t] : model.tensors) {
    bytes[numerics::tensor_type_info(t.type).name] += t.data.size();
    total += t.data.size();
  }
  std::vector<std::pair<std::string, std::uint64_t>> order(bytes.begin(), bytes.end());
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string text;
  for (const auto& [name, b] : order) {
    if (!text.empty()) text += ", ";
    text += fmt::format("{} {:.1f}%", name, total ? 100.0 * static_cast<double>(b) / static_cast<double>(total) : 0.0);
  }
  return text;
}

}  // namespace lockstep::runtime
