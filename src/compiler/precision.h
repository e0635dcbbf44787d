// The TruePoint precision policy (DESIGN.md "Numerics"), as one table: for every class of
// tensor in a step graph, how it is stored and how it is computed on. Both targets (lpu/, cpu/)
// and the policy-emulating reference read this table, so the precisions cannot drift apart.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "graph/step_graph.h"

namespace lockstep::compiler {

enum class WeightPrecision { Int8, Fp16 };

std::string_view weight_precision_name(WeightPrecision p);

// The precision of every matmul weight of a model: one for all, except the projections named
// otherwise (the same in every layer). Projections by their GGUF names: attn_q, attn_k, attn_v,
// attn_output, ffn_gate, ffn_up, ffn_down, output (the LM head).
struct PrecisionPolicy {
  WeightPrecision weights = WeightPrecision::Fp16;
  std::map<std::string, WeightPrecision, std::less<>> projections;

  PrecisionPolicy() = default;
  PrecisionPolicy(WeightPrecision all) : weights(all) {}  // NOLINT: every projection at `all`
  WeightPrecision of(std::string_view projection) const;
  bool uniform() const { return projections.empty(); }
  bool operator==(const PrecisionPolicy&) const = default;
};

// The projections a policy may name, in layer order.
const std::vector<std::string_view>& projection_names();

// "int8", or "int8,output=fp16,attn_v=fp16": the form parse_precision_policy() reads.
std::string precision_policy_name(const PrecisionPolicy& policy);
// "int8" or "fp16" (also "q8_0"/"i8" -> int8, "f16" -> fp16), then any number of
// ",PROJECTION=PRECISION". Throws lockstep::Error naming what is wrong (an unknown precision or
// projection, a projection named twice).
PrecisionPolicy parse_precision_policy(std::string_view text);

// The projection a matmul op computes: "blk.3.attn_q" -> "attn_q", "output" -> "output".
std::string_view projection_of(std::string_view matmul_op);

// The precision pass: every matmul weight of `graph` gets its projection's precision under
// `policy`, the token embedding fp16, everything else fp32 (the table below). Tensors the
// policy does not reach keep fp32.
void assign_precision(graph::Graph& graph, const PrecisionPolicy& policy);

enum class TensorClass {
  MatmulWeight,      // attention and FFN projections, LM head
  EmbeddingTable,    // token_embd rows gathered by token id
  NormWeight,        // RMSNorm scales, biases
  MatmulInput,       // activations entering the MXM
  Accumulator,       // MXM accumulation
  Residual,          // the residual stream and element-wise intermediates
  AttentionLogits,   // q k^T and the softmax over it
  KvCache,
  Logits,
};

struct PrecisionRule {
  TensorClass tensor_class;
  std::string_view name;      // "matmul weights"
  std::string_view storage;   // "int8, one fp32 scale per output row"
  std::string_view compute;   // "int8 x int8 -> int32 on the MXM"
  std::string_view why;       // the TruePoint statement or the reason
};

// The table for one weight precision, one row per TensorClass in enum order.
std::vector<PrecisionRule> precision_table(WeightPrecision weights);


}  // namespace lockstep::compiler
