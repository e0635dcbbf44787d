#include "graph/step_graph.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "model/catalog.h"

namespace lockstep::graph {
namespace {

int count(const Graph& g, OpKind kind) {
  int n = 0;
  for (const auto& op : g.ops) n += op.kind == kind;
  return n;
}

TEST(StepGraph, DecodeOfLlama2_7bHasTheExpectedOpsAndCosts) {
  const auto c = model::load_catalog_shape("llama-2-7b");
  WeightTypes types;
  types.default_type = numerics::TensorType::F16;
  const auto g = build_step_graph(c, {1, 100}, types);
  EXPECT_EQ(count(g, OpKind::MatMul), 7 * 32 + 1);
  EXPECT_EQ(count(g, OpKind::Attention), 32);
  EXPECT_EQ(count(g, OpKind::RmsNorm), 2 * 32 + 1);
  EXPECT_EQ(count(g, OpKind::BiasAdd), 0);
  // Decode streams every weight once except the embedding table (one row): ~2 bytes x params.
  const double params = static_cast<double>(c.parameter_count());
  const double embedding = 32000.0 * 4096;
  EXPECT_NEAR(g.weight_bytes(), 2 * (params - embedding), 0.001 * 2 * params);
  // ~2 flops per weight used, plus a little attention at position 100.
  EXPECT_GT(g.total_flops(), 2 * (params - embedding));
  EXPECT_LT(g.total_flops(), 2.05 * (params - embedding));
  // KV cache: 32 layers x 101 positions x 4096 x (k, v) x 4 bytes (f32 cache).
  EXPECT_EQ(g.kv_bytes_read(), 32ull * 101 * 4096 * 2 * 4);
  EXPECT_EQ(g.kv_bytes_written(), 32ull * 1 * 4096 * 2 * 4);
}

TEST(StepGraph, ArchitectureFeaturesBecomeOps) {
  WeightTypes types;
  const auto qwen2 = build_step_graph(model::load_catalog_shape("qwen2.5-0.5b"), {4, 0}, types);
  EXPECT_EQ(count(qwen2, OpKind::BiasAdd), 3 * 24);
  EXPECT_EQ(count(qwen2, OpKind::HeadNorm), 0);
  const auto qwen3 = build_step_graph(model::load_catalog_shape("qwen3-0.6b"), {1, 0}, types);
  EXPECT_EQ(count(qwen3, OpKind::HeadNorm), 2 * 28);
}

TEST(StepGraph, PrefillAttentionGrowsWithTheChunk) {
  WeightTypes types;
  const auto c = model::load_catalog_shape("tinyllama-1.1b");
  const auto one = build_step_graph(c, {1, 0}, types);
  const auto chunk = build_step_graph(c, {64, 0}, types);
  // Matmul work scales with tokens; weights are read once either way.
  EXPECT_EQ(one.weight_bytes() - 2 * 2048 * one.step.n_tokens,
            chunk.weight_bytes() - 2 * 2048 * chunk.step.n_tokens);
  EXPECT_GT(chunk.total_flops(), 60 * one.total_flops());
}

TEST(StepGraph, RejectsStepsBeyondTheContext) {
  const auto c = model::load_catalog_shape("tinyllama-1.1b");  // 2048 tokens
  EXPECT_THROW(build_step_graph(c, {8, 2045}, {}), Error);
  EXPECT_THROW(build_step_graph(c, {0, 0}, {}), Error);
}

TEST(StepGraph, VerifierRefusesUseBeforeDefinitionAndShapeMismatch) {
  auto g = build_step_graph(model::load_catalog_shape("tinyllama-1.1b"), {1, 0}, {});
  auto broken = g;
  std::swap(broken.ops[1], broken.ops[2]);  // attn_q before its normalised input exists
  EXPECT_THROW(verify_graph(broken), Error);
  broken = g;
  for (auto& op : broken.ops)
    if (op.kind == OpKind::MatMul) {
      broken.tensors[op.inputs[1]].shape[1] += 1;
      break;
    }
  EXPECT_THROW(verify_graph(broken), Error);
}

}  // namespace
}  // namespace lockstep::graph
