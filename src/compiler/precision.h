// The TruePoint precision policy (DESIGN.md "Numerics"), as one table: for every class of
// tensor in a step graph, how it is stored and how it is computed on. Both targets (lpu/, cpu/)
// and the policy-emulating reference read this table, so the precisions cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graph/step_graph.h"

namespace lockstep::compiler {

enum class WeightPrecision { Int8, Fp16 };

std::string_view weight_precision_name(WeightPrecision p);
// "int8" or "fp16" (also "q8_0" -> Int8, "f16" -> Fp16); throws lockstep::Error otherwise.
WeightPrecision parse_weight_precision(std::string_view text);

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
