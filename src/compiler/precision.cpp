#include "compiler/precision.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace lockstep::compiler {

std::string_view weight_precision_name(WeightPrecision p) {
  return p == WeightPrecision::Int8 ? "int8" : "fp16";
}

namespace {

WeightPrecision parse_one(std::string_view text, std::string_view where) {
  if (text == "int8" || text == "q8_0" || text == "i8") return WeightPrecision::Int8;
  if (text == "fp16" || text == "f16") return WeightPrecision::Fp16;
  fail("unknown weight precision '{}'{} (use int8 or fp16)", text, where);
}

graph::Precision graph_precision(WeightPrecision p) {
  return p == WeightPrecision::Int8 ? graph::Precision::Int8 : graph::Precision::Fp16;
}

}  // namespace

WeightPrecision PrecisionPolicy::of(std::string_view projection) const {
  auto it = projections.find(projection);
  return it == projections.end() ? weights : it->second;
}

const std::vector<std::string_view>& projection_names() {
  static const std::vector<std::string_view> names = {"attn_q",   "attn_k", "attn_v",   "attn_output",
                                                      "ffn_gate", "ffn_up", "ffn_down", "output"};
  return names;
}

std::string precision_policy_name(const PrecisionPolicy& policy) {
  std::string s(weight_precision_name(policy.weights));
  for (std::string_view name : projection_names())  // in layer order, whatever the map's
    if (auto it = policy.projections.find(name); it != policy.projections.end())
      s += fmt::format(",{}={}", name, weight_precision_name(it->second));
  return s;
}

PrecisionPolicy parse_precision_policy(std::string_view text) {
  constexpr auto npos = std::string_view::npos;
  std::size_t end = text.find(',');
  PrecisionPolicy policy(parse_one(text.substr(0, end), ""));
  while (end != npos) {  // each ",PROJECTION=PRECISION"
    const std::size_t start = end + 1;
    end = text.find(',', start);
    const std::string_view item = text.substr(start, end == npos ? npos : end - start);
    const std::size_t eq = item.find('=');
    if (eq == npos)
      fail("'{}' in weight precision '{}' is not PROJECTION=PRECISION (for example output=fp16)", item, text);
    const std::string_view name = item.substr(0, eq);
    const auto& names = projection_names();
    if (std::find(names.begin(), names.end(), name) == names.end())
      fail("'{}' in weight precision '{}' is not a projection (use attn_q, attn_k, attn_v, "
           "attn_output, ffn_gate, ffn_up, ffn_down or output)",
           name, text);
    if (!policy.projections.emplace(std::string(name), parse_one(item.substr(eq + 1), fmt::format(" for {}", name))).second)
      fail("weight precision '{}' names {} twice", text, name);
  }
  return policy;
}

std::string_view projection_of(std::string_view matmul_op) {
  const std::size_t dot = matmul_op.rfind('.');
  return dot == std::string_view::npos ? matmul_op : matmul_op.substr(dot + 1);
}

void assign_precision(graph::Graph& graph, const PrecisionPolicy& policy) {
  for (graph::TensorInfo& t : graph.tensors) t.precision = graph::Precision::Fp32;
  for (const graph::Op& op : graph.ops)
    if (op.kind == graph::OpKind::Embedding)
      graph.tensors[static_cast<std::size_t>(op.inputs[1])].precision = graph::Precision::Fp16;
  // After the embedding: a table tied to the LM head is stored at the head's precision for the
  // MXM (the gather reads its own fp16 copy).
  for (const graph::Op& op : graph.ops)
    if (op.kind == graph::OpKind::MatMul)
      graph.tensors[static_cast<std::size_t>(op.inputs[1])].precision =
          graph_precision(policy.of(projection_of(op.name)));
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
