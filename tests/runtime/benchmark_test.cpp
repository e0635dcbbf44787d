// The benchmark loop on the embedded model's reference pass: it decodes the greedy continuation
// of its prompt, records one latency per decoded token, and refuses runs that do not fit.
#include "runtime/benchmark.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/error.h"
#include "model/model_loader.h"

namespace lockstep::runtime {
namespace {

TEST(Benchmark, RecordsEveryStepAndDecodesGreedily) {
  auto model = model::load_embedded_model();
  auto backend = make_reference_backend(model, 16);
  BenchmarkOptions o;
  o.prompt_tokens = 5;
  o.decode_tokens = 4;
  o.repetitions = 2;
  o.warmup = 1;
  o.prefill_chunk = 2;  // three chunks: 2 + 2 + 1
  const auto r = run_benchmark(*backend, o);
  ASSERT_EQ(r.repetitions.size(), 2u);
  for (const auto& rep : r.repetitions) {
    EXPECT_EQ(rep.inter_token_seconds.size(), 4u);
    EXPECT_GT(rep.prompt_tokens_per_second, 0);
    EXPECT_LE(rep.itl_p50_ms, rep.itl_max_ms);
  }
  EXPECT_GT(r.decode_tokens_per_second, 0);
  EXPECT_LE(r.itl_p50_ms, r.itl_p99_ms);
  ASSERT_EQ(r.decoded.size(), 4u);

  // The same prompt (seed 1) through the generator's path, greedily: the same tokens.
  std::vector<std::int32_t> tokens(5);
  std::vector<float> logits(model->config.n_vocab);
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<std::int32_t> pick(0, static_cast<std::int32_t>(model->config.n_vocab - 1));
  for (auto& t : tokens) t = pick(rng);
  backend->forward(tokens, 0, logits, false);
  for (std::int64_t i = 0; i < 4; ++i) {
    const auto next = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(r.decoded[static_cast<std::size_t>(i)], next) << i;
    backend->forward(std::span(&next, 1), 5 + i, logits, false);
  }
}

TEST(Benchmark, RefusesRunsThatDoNotFitTheContext) {
  auto model = model::load_embedded_model();
  auto backend = make_reference_backend(model, 8);
  BenchmarkOptions o;
  o.prompt_tokens = 6;
  o.decode_tokens = 3;
  EXPECT_THROW(run_benchmark(*backend, o), Error);
  o.decode_tokens = 0;
  EXPECT_THROW(run_benchmark(*backend, o), Error);
}

TEST(Benchmark, PercentilesAreNearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(percentile(v, 0.5), 50);
  EXPECT_EQ(percentile(v, 0.99), 99);
  EXPECT_EQ(percentile(v, 1.0), 100);
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 2, 3}), 2.5);
}

TEST(Benchmark, RooflineChargesEveryWeightAndTheCacheAtTheMeanPosition) {
  auto model = model::load_embedded_model();
  const auto r = decode_roofline(*model, 100, 21, 10e9);
  EXPECT_EQ(r.position, 110);
  // The embedded model ties its embeddings: the LM head reads the whole table, so the step reads
  // every weight once (an untied model would be charged one embedding row).
  ASSERT_EQ(model->output, model->token_embd);
  EXPECT_EQ(r.weight_bytes, model->weight_bytes());
  const auto& c = model->config;
  // k and v, f16, every layer, positions 0..110.
  EXPECT_EQ(r.kv_bytes, static_cast<std::uint64_t>(2 * c.n_layer * c.kv_dim() * 2 * 111));
  EXPECT_EQ(r.bytes_per_token, r.weight_bytes + r.kv_bytes);
  EXPECT_DOUBLE_EQ(r.tokens_per_second, 10e9 / static_cast<double>(r.bytes_per_token));
}

}  // namespace
}  // namespace lockstep::runtime
