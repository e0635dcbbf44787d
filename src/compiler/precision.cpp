#include "compiler/precision.h"

#include "core/error.h"

namespace lockstep::compiler {

std::string_view weight_precision_name(WeightPrecision p) {
  return p == WeightPrecision::Int8 ? "int8" : "fp16";
}

WeightPrecision parse_weight_precision(std::string_view text) {
  if (text == "int8" || text == "q8_0" || text == "i8") return WeightPrecision::Int8;
  if (text == "fp16" || text == "f16") return WeightPrecision::Fp16;
  fail("unknown weight precision '{}' (use int8 or fp16)", text);
}

std::vector<PrecisionRule> precision_table(WeightPrecision weights) {
  const bool int8 = weights == WeightPrecision::Int8;
  using enum TensorClass;
  return {
      {MatmulWeight, "matmul weights",
       int8 ? "int8, symmetric, one fp32 scale per output row" : "fp16",
       int8 ? "int8 x int8 on the MXM (K = 320 per plane pass)"
            : "fp16 x fp16 on the MXM (K = 160 per plane pass)",
       "TruePoint: weights stored as INT8 / FP16"},
      {EmbeddingTable, "token embedding", "fp16 rows", "gathered by token id, widened to fp32",
       "rows are read once per token; fp16 keeps them exact enough for a residual start"},
      {NormWeight, "norm scales and biases", "fp32", "fp32 on the VXM",
       "a few thousand values; no reason to round them"},
      {MatmulInput, "activations into the MXM",
       int8 ? "int8, one dynamic scale per row (absmax / 127)" : "fp16",
       int8 ? "quantised on the VXM just before the MXM" : "rounded to nearest even on the VXM",
       "the MXM takes int8 or fp16 inputs only"},
      {Accumulator, "accumulation", int8 ? "int32" : "fp32",
       int8 ? "exact int32 sums, then one fp32 rescale per row"
            : "fp32, products summed in index order",
       "TruePoint: wide accumulation (its 100-bit accumulator is unpublished; int32 is exact "
       "for K < 2^17 int8 products)"},
      {Residual, "residual stream and element-wise ops", "fp32", "fp32 on the VXM",
       "norms, RoPE, SwiGLU and adds are cheap and sensitive"},
      {AttentionLogits, "attention logits and softmax", "fp32", "fp32 on the VXM",
       "TruePoint: FP32 attention logits"},
      {KvCache, "KV cache", "fp32", "read by the VXM in fp32",
       "kept fp32 in this version: the VXM computes on fp32 lanes and no conversion is needed; "
       "fp16 storage would halve its SRAM"},
      {Logits, "logits", "fp32", "read by the host, which samples (greedy or seeded)",
       "the output of a step; sampling stays on the host as for every target"},
  };
}

}  // namespace lockstep::compiler
