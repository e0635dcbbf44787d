#include "compiler/model_footprint.h"

#include <algorithm>
#include <fmt/format.h>

namespace lockstep::compiler {
namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

// A matrix [rows][cols] stored as rows x ceil(cols / per_vector) vectors, plus for int8 one
// vector of fp32 scales per 80 rows.
std::uint64_t matrix_vectors(const ChipConfig& chip, compiler::WeightPrecision weights,
                             std::uint64_t rows, std::uint64_t cols) {
  const bool int8 = weights == compiler::WeightPrecision::Int8;
  const std::uint64_t vb = chip.vector_bytes;
  const std::uint64_t per_vector = int8 ? vb : vb / 2;  // matmul input elements per vector
  std::uint64_t v = rows * ceil_div(cols, per_vector);
  if (int8) v += ceil_div(rows, chip.fp32_lanes());
  return v;
}

}  // namespace

std::uint64_t lm_head_vectors(const model::ModelConfig& c, const ChipConfig& chip,
                              const compiler::PrecisionPolicy& weights, std::uint64_t vocab_rows) {
  return matrix_vectors(chip, weights.of("output"), vocab_rows, c.n_embd);
}

std::uint64_t embedding_vectors(const model::ModelConfig& c, const ChipConfig& chip,
                                std::uint64_t vocab_rows) {
  return vocab_rows * ceil_div(c.n_embd, chip.vector_bytes / 2);  // fp16 rows
}

ModelParts model_parts(const model::ModelConfig& c, const ChipConfig& chip,
                       const compiler::PrecisionPolicy& weights, std::int64_t context, int ways) {
  const std::uint64_t lanes = chip.fp32_lanes();
  const std::uint64_t w = static_cast<std::uint64_t>(std::max(ways, 1));
  auto matrix = [&](std::string_view projection, std::uint64_t rows, std::uint64_t cols) {
    return matrix_vectors(chip, weights.of(projection), rows, cols);
  };
  const std::uint64_t d = c.n_embd;
  const std::uint64_t heads = ceil_div(c.n_head, w), kv_heads = ceil_div(c.n_head_kv, w);
  const std::uint64_t ff = ceil_div(c.n_ff, w);
  // q, k and v rows, and wo's columns, are laid out two vectors (160 lanes) per head, whatever
  // head_dim is (decode_lowering.h).
  const std::uint64_t q_rows = heads * 2 * lanes, kv_rows = kv_heads * 2 * lanes;
  ModelParts p;
  p.layer_weights = matrix("attn_q", q_rows, d) + matrix("attn_k", kv_rows, d) +
                    matrix("attn_v", kv_rows, d) + matrix("attn_output", d, q_rows) +
                    matrix("ffn_gate", ff, d) + matrix("ffn_up", ff, d) + matrix("ffn_down", d, ff);
  p.layer_norms = 2 * ceil_div(d, lanes) + (c.qkv_bias ? (q_rows + 2 * kv_rows) / lanes : 0) +
                  (c.qk_norm ? 2 * 2 : 0);
  // KV cache per kv head (step_lowering.h): keys position-major in fp16, one vector per position
  // of the window (whole 80-position blocks); values dimension-major in fp32, one vector per
  // dimension and 80 positions.
  const std::uint64_t blocks = ceil_div(static_cast<std::uint64_t>(context), lanes);
  p.layer_kv = kv_heads * (blocks * lanes + c.head_dim * blocks);
  p.final_norm = ceil_div(d, lanes);
  // Activations of one decode step: generous bound of 64 residual-width rows plus the logits.
  const std::uint64_t full_q_rows = static_cast<std::uint64_t>(c.n_head) * 2 * lanes;
  p.activations = 64 * ceil_div(std::max<std::uint64_t>({d, full_q_rows, std::uint64_t(c.n_ff)}), lanes) +
                  ceil_div(c.n_vocab, lanes) * 2;
  return p;
}

ModelFootprint model_footprint(const model::ModelConfig& c, const ChipConfig& chip,
                               const compiler::PrecisionPolicy& weights, std::int64_t context) {
  const std::uint64_t vb = chip.vector_bytes;
  const ModelParts p = model_parts(c, chip, weights, context);
  const std::uint64_t layers = c.n_layer;
  ModelFootprint f;
  auto add = [&](std::string what, std::uint64_t vectors) {
    f.lines.push_back({std::move(what), vectors, vectors * vb});
    f.total_bytes += vectors * vb;
  };
  // The LM head is stored in MXM layout even when tied to the embedding, which the gather reads
  // as fp16 rows: the two layouts serve different units.
  add(fmt::format("matmul weights ({})", compiler::precision_policy_name(weights)),
      layers * p.layer_weights + lm_head_vectors(c, chip, weights, c.n_vocab));
  add("token embedding (fp16)", embedding_vectors(c, chip, c.n_vocab));
  add("norms and biases (fp32)", layers * p.layer_norms + p.final_norm);
  add(fmt::format("KV cache (keys fp16, values fp32; {} positions)", context), layers * p.layer_kv);
  add("activations (fp32)", p.activations);
  f.chip_bytes = static_cast<std::uint64_t>(chip.sram_bytes());
  f.chips_needed = static_cast<std::int64_t>(std::max<std::uint64_t>(1, ceil_div(f.total_bytes, f.chip_bytes)));
  return f;
}

}  // namespace lockstep::compiler
