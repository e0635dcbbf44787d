// The GPU decode model: the header's formulas on a hand-computed toy model and GPU, the shape of
// a batch sweep, the memory limit, and the sanity figures the header quotes.
#include "plan/gpu_model.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "model/catalog.h"
#include "support/expect_error.h"

namespace lockstep::plan {
namespace {

// A model small enough to count by hand:
//   attention 8 x (8 + 2 x 4) + 8 x 8 = 192, FFN 3 x 8 x 16 = 384, norms 16: 592 per layer;
//   2 layers + 2 x 100 x 8 embeddings + 8 = 2,792 parameters; streamed 2,792 - 800 = 1,992.
//   KV per token at 2 bytes: 2 x 2 layers x 1 head x 4 x 2 = 32 bytes.
model::ModelConfig toy_model() {
  model::ModelConfig m;
  m.name = "toy";
  m.n_vocab = 100;
  m.n_embd = 8;
  m.n_layer = 2;
  m.n_head = 2;
  m.n_head_kv = 1;
  m.head_dim = 4;
  m.n_ff = 16;
  m.n_ctx_train = 64;
  return m;
}

// A GPU of round numbers: 500 B/s and 5,000 flop/s achievable.
GpuPreset toy_gpu() {
  GpuPreset g;
  g.name = "toy-gpu";
  g.hbm_bytes = 1e6;
  g.hbm_bytes_per_s = 1000;
  g.hbm_efficiency = 0.5;
  g.peak_flops_fp16 = 1e4;
  g.flops_efficiency = 0.5;
  g.nvlink_bytes_per_s = 100;
  g.per_layer_overhead_s = 0.1;
  g.allreduce_latency_s = 0.01;
  g.hbm_usable_fraction = 1.0;
  g.power_w = 100;
  return g;
}

DecodeSetup toy_setup(int gpus, std::int64_t batch) {
  DecodeSetup s;
  s.model = toy_model();
  s.context_tokens = 10;
  s.gpus_per_unit = gpus;
  s.batch = batch;
  return s;
}

DecodeSetup catalog_setup(const std::string& name, GpuPrecision p, int gpus, std::int64_t batch) {
  DecodeSetup s;
  s.model = model::load_catalog_shape(name);
  s.weights = p;
  s.context_tokens = 2048;
  s.gpus_per_unit = gpus;
  s.batch = batch;
  return s;
}

TEST(GpuModelTest, CountsOfTheToyModel) {
  EXPECT_EQ(toy_model().parameter_count(), 2792u);
  EXPECT_DOUBLE_EQ(streamed_parameters(toy_model()), 1992);
  EXPECT_DOUBLE_EQ(kv_bytes_per_token(toy_model(), 2), 32);
  model::ModelConfig tied = toy_model();
  tied.tied_embeddings = true;
  EXPECT_DOUBLE_EQ(streamed_parameters(tied), static_cast<double>(tied.parameter_count()));
}

TEST(GpuModelTest, OneGpuStepByHand) {
  const DecodeStep r = decode_step(toy_setup(1, 2), toy_gpu());
  EXPECT_DOUBLE_EQ(r.weight_bytes_per_gpu, 2792 * 2);
  EXPECT_DOUBLE_EQ(r.kv_bytes_per_gpu, 2 * 10 * 32);
  EXPECT_DOUBLE_EQ(r.memory_bytes_per_gpu, 5584 + 640);
  EXPECT_TRUE(r.fits);
  // (1,992 x 2 + 640) bytes / 500 B/s.
  EXPECT_DOUBLE_EQ(r.hbm_s, 4624.0 / 500);
  // 2 x 1,992 x 2 + 4 x 2 layers x q_dim 8 x ctx 10 x B 2 = 7,968 + 1,280 flops at 5,000 flop/s.
  EXPECT_DOUBLE_EQ(r.flops, 9248);
  EXPECT_DOUBLE_EQ(r.compute_s, 9248.0 / 5000);
  EXPECT_DOUBLE_EQ(r.overhead_s, 0.2);
  EXPECT_DOUBLE_EQ(r.allreduce_s, 0);
  EXPECT_TRUE(r.memory_bound);
  EXPECT_DOUBLE_EQ(r.step_s, 9.248 + 0.2);
  EXPECT_DOUBLE_EQ(r.tokens_per_s_per_user, 1 / 9.448);
  EXPECT_DOUBLE_EQ(r.tokens_per_s_per_unit, 2 / 9.448);
  EXPECT_DOUBLE_EQ(r.joules_per_token, 100 * 9.448 / 2);
  EXPECT_EQ(r.compute_precision, "fp16");
}

TEST(GpuModelTest, TwoGpusSplitWeightsButNotTheOnlyKvHead) {
  const DecodeStep r = decode_step(toy_setup(2, 2), toy_gpu());
  EXPECT_DOUBLE_EQ(r.weight_bytes_per_gpu, 2792);
  EXPECT_DOUBLE_EQ(r.kv_bytes_per_gpu, 640);  // 1 KV head: replicated on both GPUs
  EXPECT_DOUBLE_EQ(r.hbm_s, (1992.0 + 640) / 500);
  EXPECT_DOUBLE_EQ(r.compute_s, 9248.0 / 10000);
  // 2 layers x 2 all-reduces x (0.01 s + 2 x 1/2 x (2 x 8 x 2 bytes) / 100 B/s).
  EXPECT_DOUBLE_EQ(r.allreduce_s, 4 * (0.01 + 0.32));
  EXPECT_DOUBLE_EQ(r.step_s, 5.264 + 0.2 + 1.32);
  EXPECT_DOUBLE_EQ(r.joules_per_token, 2 * 100 * r.step_s / 2);
}

TEST(GpuModelTest, ComputeBoundWhenFlopsAreScarce) {
  GpuPreset g = toy_gpu();
  g.peak_flops_fp16 = 100;  // 50 flop/s achievable
  const DecodeStep r = decode_step(toy_setup(1, 2), g);
  EXPECT_FALSE(r.memory_bound);
  EXPECT_DOUBLE_EQ(r.step_s, 9248.0 / 50 + 0.2);
}

TEST(GpuModelTest, PrecisionPicksItsPeakOrFallsBackToFp16) {
  GpuPreset g = toy_gpu();
  g.peak_flops_fp16 = 100;
  DecodeSetup s = toy_setup(1, 1);
  s.weights = GpuPrecision::Fp8;
  DecodeStep r = decode_step(s, g);
  EXPECT_EQ(r.compute_precision, "fp16");  // no fp8 peak: weight-only
  EXPECT_DOUBLE_EQ(r.compute_s, r.flops / 50);
  EXPECT_DOUBLE_EQ(r.weight_bytes_per_gpu, 2792);  // 1 byte per weight
  g.peak_flops_fp8 = 200;
  r = decode_step(s, g);
  EXPECT_EQ(r.compute_precision, "fp8");
  EXPECT_DOUBLE_EQ(r.compute_s, r.flops / 100);
  s.weights = GpuPrecision::Fp4;
  EXPECT_DOUBLE_EQ(decode_step(s, g).weight_bytes_per_gpu, 2792 * 0.5);
  EXPECT_EQ(parse_gpu_precision("bf16"), GpuPrecision::Fp16);
  EXPECT_EQ(parse_gpu_precision("int8"), GpuPrecision::Int8);
  EXPECT_DOUBLE_EQ(bytes_per_weight(GpuPrecision::Int8), 1);
  testing::expect_error_naming([] { parse_gpu_precision("fp6"); }, "fp6", {"fp16", "fp4"});
}

TEST(GpuModelTest, MaxBatchAndSweepOnTheToy) {
  GpuPreset g = toy_gpu();
  // Room for the weights and 6.03 sequences of 320 KV bytes.
  g.hbm_bytes = 5584 + 320 * 6 + 10;
  EXPECT_EQ(max_batch(toy_setup(1, 1), g), 6);
  std::vector<std::int64_t> batches;
  for (const auto& step : sweep_batches(toy_setup(1, 1), g)) {
    EXPECT_TRUE(step.fits);
    batches.push_back(step.batch);
  }
  EXPECT_EQ(batches, (std::vector<std::int64_t>{1, 2, 4, 6}));
  g.hbm_bytes = 5584 + 100;  // the weights fit, one sequence does not
  EXPECT_EQ(max_batch(toy_setup(1, 1), g), 0);
  EXPECT_TRUE(sweep_batches(toy_setup(1, 1), g).empty());
  DecodeSetup s = toy_setup(1, 7);
  EXPECT_FALSE(decode_step(s, g).fits);
}

TEST(GpuModelTest, BadInputsAreErrors) {
  const GpuPreset g = toy_gpu();
  testing::expect_error_naming([&] { decode_step(toy_setup(1, 0), g); }, "batch size", {"0"});
  testing::expect_error_naming([&] { decode_step(toy_setup(0, 1), g); }, "GPUs", {"0"});
  DecodeSetup s = toy_setup(1, 1);
  s.context_tokens = 0;
  testing::expect_error_naming([&] { decode_step(s, g); }, "context", {"0"});
  s = toy_setup(1, 1);
  s.kv_bytes_per_value = 0;
  testing::expect_error_naming([&] { decode_step(s, g); }, "KV cache", {});
  s = toy_setup(1, 1);
  s.model.n_layer = 0;
  testing::expect_error_naming([&] { decode_step(s, g); }, "toy", {});
}

TEST(GpuModelTest, MoreBatchMoreTokensPerSystemFewerPerUser) {
  const GpuPreset h100 = load_gpu_preset("h100-sxm");
  for (int gpus : {2, 8}) {
    SCOPED_TRACE(gpus);
    const auto steps = sweep_batches(catalog_setup("llama-2-70b", GpuPrecision::Fp8, gpus, 1), h100);
    ASSERT_GE(steps.size(), 5u);
    for (std::size_t i = 1; i < steps.size(); ++i) {
      EXPECT_GT(steps[i].batch, steps[i - 1].batch);
      EXPECT_GT(steps[i].tokens_per_s_per_unit, steps[i - 1].tokens_per_s_per_unit);
      EXPECT_LT(steps[i].tokens_per_s_per_user, steps[i - 1].tokens_per_s_per_user);
      EXPECT_LT(steps[i].joules_per_token, steps[i - 1].joules_per_token);
    }
  }
}

TEST(GpuModelTest, MoreGpusFasterPerUser) {
  const GpuPreset h100 = load_gpu_preset("h100-sxm");
  double previous = 0;
  for (int gpus : {2, 4, 8}) {
    const DecodeStep r = decode_step(catalog_setup("llama-2-70b", GpuPrecision::Fp16, gpus, 1), h100);
    EXPECT_GT(r.tokens_per_s_per_user, previous) << gpus;
    previous = r.tokens_per_s_per_user;
  }
}

TEST(GpuModelTest, SeventyBillionFp16DoesNotFitOneH100) {
  const GpuPreset h100 = load_gpu_preset("h100-sxm");
  const DecodeSetup fp16 = catalog_setup("llama-2-70b", GpuPrecision::Fp16, 1, 1);
  EXPECT_FALSE(decode_step(fp16, h100).fits);
  EXPECT_EQ(max_batch(fp16, h100), 0);
  EXPECT_EQ(min_gpus_per_unit(fp16, h100), 2);
  EXPECT_EQ(min_gpus_per_unit(catalog_setup("llama-2-70b", GpuPrecision::Fp8, 1, 1), h100), 1);
  // Figure 18's point: one B300 (288 GB) holds 70B at fp16.
  EXPECT_EQ(min_gpus_per_unit(fp16, load_gpu_preset("b300")), 1);
  // 4,096 sequences of 1M tokens: 320 KB x 2^20 x 4,096 of KV is beyond any unit.
  DecodeSetup huge = catalog_setup("llama-2-70b", GpuPrecision::Fp16, 1, kMaxDecodeBatch);
  huge.context_tokens = std::int64_t{1} << 20;
  testing::expect_error_naming([&] { min_gpus_per_unit(huge, h100); }, "needs more than",
                               {"1024", "h100-sxm"});
}

// The figures gpu_model.h quotes.
TEST(GpuModelTest, SanityLlama70bOn8H100) {
  const GpuPreset h100 = load_gpu_preset("h100-sxm");
  const DecodeStep fp16 = decode_step(catalog_setup("llama-2-70b", GpuPrecision::Fp16, 8, 1), h100);
  EXPECT_NEAR(fp16.tokens_per_s_per_user, 108, 1);
  EXPECT_NEAR(fp16.step_s * 1e3, 9.25, 0.01);
  const DecodeStep fp8 = decode_step(catalog_setup("llama-2-70b", GpuPrecision::Fp8, 8, 1), h100);
  EXPECT_NEAR(fp8.tokens_per_s_per_user, 165, 1);
  EXPECT_EQ(fp8.compute_precision, "fp8");
}

TEST(GpuModelTest, SanityFigure11ThroughputColumn) {
  const GpuPreset h100 = load_gpu_preset("h100-sxm");
  const DecodeStep r = decode_step(catalog_setup("llama-2-70b", GpuPrecision::Fp8, 2, 64), h100);
  EXPECT_TRUE(r.fits);
  EXPECT_NEAR(r.tokens_per_s_per_user, 41.7, 0.1);
  EXPECT_NEAR(r.tokens_per_s_per_unit, 2666, 5);
}

TEST(GpuModelTest, SanityLlama8bOnOneH100) {
  const DecodeStep r = decode_step(
      catalog_setup("llama-3.1-8b", GpuPrecision::Fp16, 1, 1), load_gpu_preset("h100-sxm"));
  EXPECT_NEAR(r.tokens_per_s_per_user, 162, 1);
}

}  // namespace
}  // namespace lockstep::plan
