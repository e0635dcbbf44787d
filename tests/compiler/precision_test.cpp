// The TruePoint precision policy (compiler/precision.h): its text form, the precision pass that
// writes it into the step graph tensor by tensor, and the readers of that choice: the chip's
// placement (each matrix laid out at its own precision) and the planner's SRAM count. That the
// chip computes correctly under a mixed policy is the op agreement test's lpu-mixed column.
#include "compiler/precision.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "compiler/decode_lowering.h"
#include "compiler/model_footprint.h"
#include "core/error.h"
#include "graph/step_graph.h"
#include "model/catalog.h"
#include "support/lpu_chip.h"

namespace lockstep::compiler {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_precision_policy(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(PrecisionPolicyTest, TheTextFormRoundTrips) {
  const PrecisionPolicy all = parse_precision_policy("int8");
  EXPECT_EQ(all.weights, WeightPrecision::Int8);
  EXPECT_TRUE(all.uniform());
  EXPECT_EQ(precision_policy_name(all), "int8");
  EXPECT_EQ(parse_precision_policy("q8_0"), PrecisionPolicy(WeightPrecision::Int8));
  EXPECT_EQ(parse_precision_policy("f16"), PrecisionPolicy(WeightPrecision::Fp16));

  const PrecisionPolicy mixed = parse_precision_policy("fp16,output=int8,attn_v=i8");
  EXPECT_EQ(mixed.of("attn_q"), WeightPrecision::Fp16);
  EXPECT_EQ(mixed.of("attn_v"), WeightPrecision::Int8);
  EXPECT_EQ(mixed.of("output"), WeightPrecision::Int8);
  EXPECT_EQ(precision_policy_name(mixed), "fp16,attn_v=int8,output=int8");  // layer order
  EXPECT_EQ(parse_precision_policy(precision_policy_name(mixed)), mixed);
}

TEST(PrecisionPolicyTest, BadTextIsOneSentenceNamingTheFault) {
  EXPECT_NE(error_of("int4").find("'int4'"), std::string::npos);
  EXPECT_NE(error_of("int4").find("int8 or fp16"), std::string::npos);
  EXPECT_NE(error_of("int8,output").find("PROJECTION=PRECISION"), std::string::npos);
  EXPECT_NE(error_of("int8,attn_x=fp16").find("'attn_x'"), std::string::npos);
  EXPECT_NE(error_of("int8,output=fp8").find("'fp8' for output"), std::string::npos);
  EXPECT_NE(error_of("int8,output=fp16,output=int8").find("output twice"), std::string::npos);
  EXPECT_NE(error_of("").find("unknown weight precision"), std::string::npos);
}

TEST(PrecisionPassTest, EveryTensorOfTheGraphGetsItsPrecision) {
  for (const char* shape : {"tiny", "tiny-qwen2"}) {  // untied and tied embeddings
    SCOPED_TRACE(shape);
    const model::ModelConfig c = model::load_catalog_shape(shape);
    graph::Graph g = graph::build_step_graph(c, {}, graph::WeightTypes{});
    assign_precision(g, parse_precision_policy("int8,ffn_down=fp16,output=fp16"));
    int matmuls = 0;
    for (const graph::Op& op : g.ops) {
      if (op.kind != graph::OpKind::MatMul) continue;
      const graph::Precision want = projection_of(op.name) == "ffn_down" || op.name == "output"
                                        ? graph::Precision::Fp16
                                        : graph::Precision::Int8;
      EXPECT_EQ(g.tensors[static_cast<std::size_t>(op.inputs[1])].precision, want) << op.name;
      ++matmuls;
    }
    EXPECT_EQ(matmuls, 7 * c.n_layer + 1);
    for (const graph::TensorInfo& t : g.tensors) {
      if (t.role == graph::TensorRole::Weight && t.shape.size() == 2) continue;  // above
      EXPECT_EQ(t.precision, graph::Precision::Fp32) << t.name;  // norms, activations, cache
    }
  }
  // An untied embedding table is gathered as fp16 rows.
  ASSERT_FALSE(model::load_catalog_shape("tiny").tied_embeddings);
  graph::Graph g = graph::build_step_graph(model::load_catalog_shape("tiny"), {}, graph::WeightTypes{});
  assign_precision(g, WeightPrecision::Int8);
  for (const graph::TensorInfo& t : g.tensors) {
    if (t.name == "token_embd.weight") {
      EXPECT_EQ(t.precision, graph::Precision::Fp16);
    }
  }
}

// Vectors a timing-only program places for each of `matrices` (its MXM blocks "NAME.B.C" and,
// at int8, its row scales "NAME.scale").
std::map<std::string, std::uint32_t> placed_vectors(const model::ModelConfig& c, const PrecisionPolicy& policy,
                                                    const std::vector<std::string>& matrices) {
  const DecodeProgram program(c, nullptr, lockstep::testing::test_system(), {policy, 128});
  std::map<std::string, std::uint32_t> out;
  for (const Allocation& a : program.placement())
    for (const std::string& m : matrices)
      if (a.name.starts_with(m + ".")) out[m] += a.place.vectors;
  return out;
}

TEST(PrecisionPassTest, TheChipPlacesEachMatrixAtItsOwnPrecision) {
  const model::ModelConfig c = model::load_catalog_shape("tiny-qwen2");
  const std::vector<std::string> names = {"blk.0.attn_q", "blk.0.attn_v", "blk.1.ffn_down", "output"};
  const auto fp16 = placed_vectors(c, WeightPrecision::Fp16, names);
  const auto int8 = placed_vectors(c, WeightPrecision::Int8, names);
  const auto mixed = placed_vectors(c, parse_precision_policy("int8,attn_v=fp16,output=fp16"), names);
  for (const std::string& name : names) {
    ASSERT_TRUE(fp16.count(name) && int8.count(name) && mixed.count(name)) << name;
    ASSERT_NE(fp16.at(name), int8.at(name)) << name;  // else the test could not tell
  }
  EXPECT_EQ(mixed.at("blk.0.attn_v"), fp16.at("blk.0.attn_v"));
  EXPECT_EQ(mixed.at("output"), fp16.at("output"));
  EXPECT_EQ(mixed.at("blk.0.attn_q"), int8.at("blk.0.attn_q"));
  EXPECT_EQ(mixed.at("blk.1.ffn_down"), int8.at("blk.1.ffn_down"));
}

TEST(PrecisionPassTest, ThePlannerCountsEachProjectionAtItsPrecision) {
  const model::ModelConfig c = model::load_catalog_shape("llama-3.1-8b");
  const lpu::ChipConfig& chip = lockstep::testing::test_chip();
  const ModelParts int8 = model_parts(c, chip, WeightPrecision::Int8, 4096);
  const ModelParts fp16 = model_parts(c, chip, WeightPrecision::Fp16, 4096);
  const ModelParts ffn16 = model_parts(c, chip, parse_precision_policy("int8,ffn_gate=fp16,ffn_up=fp16,ffn_down=fp16"), 4096);
  const ModelParts attn16 = model_parts(c, chip, parse_precision_policy("fp16,ffn_gate=int8,ffn_up=int8,ffn_down=int8"), 4096);
  // Attention's and the FFN's matrices, each counted at its own precision, add up either way.
  EXPECT_EQ(ffn16.layer_weights + attn16.layer_weights, int8.layer_weights + fp16.layer_weights);
  EXPECT_GT(ffn16.layer_weights, int8.layer_weights);
  EXPECT_LT(ffn16.layer_weights, fp16.layer_weights);
  EXPECT_EQ(lm_head_vectors(c, chip, parse_precision_policy("int8,output=fp16"), c.n_vocab),
            lm_head_vectors(c, chip, WeightPrecision::Fp16, c.n_vocab));
}

}  // namespace
}  // namespace lockstep::compiler
