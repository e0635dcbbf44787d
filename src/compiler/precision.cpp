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
       "TruePoint: weights stored as INT8 / FP16", int8 ? 100u : 200u},
      {EmbeddingTable, "token embedding", "fp16 rows", "gathered by token id, widened to fp32",
       "rows are read once per token; fp16 keeps them exact enough for a residual start", 200},
      {NormWeight, "norm scales and biases", "fp32", "fp32 on the VXM",
       "a few thousand values; no reason to round them", 400},
      {MatmulInput, "activations into the MXM",
       int8 ? "int8, one dynamic scale per row (absmax / 127)" : "fp16",
       int8 ? "quantised on the VXM just before the MXM" : "rounded to nearest even on the VXM",
       "the MXM takes int8 or fp16 inputs only", int8 ? 100u : 200u},
      {Accumulator, "accumulation", int8 ? "int32" : "fp32",
       int8 ? "exact int32 sums, then one fp32 rescale per row"
            : "fp32, products summed in index order",
       "TruePoint: wide accumulation (its 100-bit accumulator is unpublished; int32 is exact "
       "for K < 2^17 int8 products)",
       400},
      {Residual, "residual stream and element-wise ops", "fp32", "fp32 on the VXM",
       "norms, RoPE, SwiGLU and adds are cheap and sensitive", 400},
      {AttentionLogits, "attention logits and softmax", "fp32", "fp32 on the VXM",
       "TruePoint: FP32 attention logits", 400},
      {KvCache, "KV cache", "fp32", "read by the VXM in fp32",
       "kept fp32 in this version: the VXM computes on fp32 lanes and no conversion is needed; "
       "fp16 storage would halve its SRAM",
       400},
      {Logits, "logits", "fp32", "read by the host, which samples (greedy or seeded)",
       "the output of a step; sampling stays on the host as for every target", 400},
  };
}

const PrecisionRule& precision_rule(WeightPrecision weights, TensorClass tensor_class) {
  static const std::vector<PrecisionRule> int8_table = precision_table(WeightPrecision::Int8);
  static const std::vector<PrecisionRule> fp16_table = precision_table(WeightPrecision::Fp16);
  const auto& table = weights == WeightPrecision::Int8 ? int8_table : fp16_table;
  return table[static_cast<int>(tensor_class)];
}

std::uint64_t stored_bytes(WeightPrecision weights, TensorClass tensor_class,
                           std::uint64_t elements, std::uint64_t rows) {
  const PrecisionRule& rule = precision_rule(weights, tensor_class);
  std::uint64_t bytes = elements * rule.bytes_per_element_x100 / 100;
  if (tensor_class == TensorClass::MatmulWeight && weights == WeightPrecision::Int8)
    bytes += rows * 4;  // fp32 scale per output row
  return bytes;
}

}  // namespace lockstep::compiler
