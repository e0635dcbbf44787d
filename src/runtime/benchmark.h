// Timing a backend as a user would feel it: prefill a prompt of p tokens, then decode n tokens
// one at a time (greedy, each fed back), recording every inter-token latency; repeated r times
// from position 0, with medians across repetitions. And the decode roofline: the bytes one
// decode step must stream (weights + KV cache) over the machine's read bandwidth.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/backend.h"

namespace lockstep::runtime {

struct BenchmarkOptions {
  std::int64_t prompt_tokens = 512;   // p >= 1
  std::int64_t decode_tokens = 128;   // n >= 1; p + n must fit the backend's context
  int repetitions = 3;                // r >= 1, timed
  int warmup = 1;                     // untimed repetitions before them, >= 0
  std::int64_t prefill_chunk = 256;   // prompt tokens per forward call (as the generator)
  std::uint64_t seed = 1;             // prompt token ids: uniform in [0, n_vocab) from this seed
};

// One timed repetition.
struct BenchmarkRepetition {
  double prompt_seconds = 0;                 // prefill of all p tokens, s
  std::vector<double> inter_token_seconds;   // [n] s: argmax of the previous logits + forward
  double decode_seconds = 0;                 // sum of inter_token_seconds, s
  double prompt_tokens_per_second = 0;
  double decode_tokens_per_second = 0;
  double itl_p50_ms = 0, itl_p99_ms = 0, itl_max_ms = 0;  // over this repetition's steps
};

struct BenchmarkResult {
  BenchmarkOptions options;
  std::vector<BenchmarkRepetition> repetitions;  // [r]
  // Medians across repetitions of the per-repetition figures.
  double prompt_tokens_per_second = 0;
  double decode_tokens_per_second = 0;
  double itl_p50_ms = 0, itl_p99_ms = 0, itl_max_ms = 0;
  std::vector<std::int32_t> decoded;  // [n] the tokens of the last repetition (same every time)
};

// Progress: repetition `index` (from 0) of `total` (warm-ups first) has processed `tokens_done`
// of its p + n tokens. Called with 0 before a repetition, with p after its prefill and after
// every decode step, always outside the timed intervals.
using BenchmarkProgress =
    std::function<void(int index, int total, bool warmup, std::int64_t tokens_done)>;

// Throws lockstep::Error (one sentence, with the numbers) when the options are out of range
// or p + n exceeds backend.context_length().
BenchmarkResult run_benchmark(Backend& backend, const BenchmarkOptions& options,
                              const BenchmarkProgress& progress = {});

// The bytes a decode step streams at the mean decode position, and the speed they allow.
struct DecodeRoofline {
  std::int64_t position = 0;          // the step's position: p + (n - 1) / 2, rounded down
  std::uint64_t weight_bytes = 0;     // weights one decode step reads (one embedding row)
  std::uint64_t kv_bytes = 0;         // fp16 KV cache read by attention at `position`
  std::uint64_t bytes_per_token = 0;  // weight_bytes + kv_bytes
  double bandwidth = 0;               // read bandwidth, B/s
  double tokens_per_second = 0;       // bandwidth / bytes_per_token
};

// From graph::build_step_graph with the model's own weight types and an f16 cache.
DecodeRoofline decode_roofline(const model::Model& model, std::int64_t prompt_tokens,
                               std::int64_t decode_tokens, double bandwidth);

// The weights' storage types by share of bytes, largest first: "q8_0 97.6%, f32 2.4%".
std::string describe_type_mix(const model::Model& model);

// Nearest-rank percentile (q in (0, 1]) of unsorted samples; 0 for none.
double percentile(std::vector<double> samples, double q);
double median(std::vector<double> samples);

}  // namespace lockstep::runtime
