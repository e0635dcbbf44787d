#include "lpu/model_footprint.h"

#include <algorithm>
#include <fmt/format.h>

namespace lockstep::lpu {
namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

}  // namespace

ModelFootprint model_footprint(const model::ModelConfig& c, const ChipConfig& chip,
                               compiler::WeightPrecision weights, std::int64_t context) {
  using compiler::TensorClass;
  const std::uint64_t vb = chip.vector_bytes;
  const std::uint64_t lanes = chip.fp32_lanes();
  const bool int8 = weights == compiler::WeightPrecision::Int8;
  const std::uint64_t per_vector = int8 ? vb : vb / 2;  // matmul input elements per vector

  // A matrix [rows][cols] stored as rows x ceil(cols / per_vector) vectors, plus for int8 one
  // vector of fp32 scales per 80 rows.
  auto matrix = [&](std::uint64_t rows, std::uint64_t cols) {
    std::uint64_t v = rows * ceil_div(cols, per_vector);
    if (int8) v += ceil_div(rows, lanes);
    return v;
  };
  const std::uint64_t d = c.n_embd, ff = c.n_ff;
  // q, k and v rows, and wo's columns, are laid out two vectors (160 lanes) per head, whatever
  // head_dim is (decode_lowering.h).
  const std::uint64_t q_rows = c.n_head * 2 * lanes, kv_rows = c.n_head_kv * 2 * lanes;
  const std::uint64_t layer = matrix(q_rows, d) + 2 * matrix(kv_rows, d) + matrix(d, q_rows) +
                              2 * matrix(ff, d) + matrix(d, ff);
  const std::uint64_t head = matrix(c.n_vocab, d);
  const std::uint64_t norms =
      (2 * c.n_layer + 1) * ceil_div(d, lanes) +
      (c.qkv_bias ? c.n_layer * (q_rows + 2 * kv_rows) / lanes : 0) +
      (c.qk_norm ? 2 * c.n_layer * 2 : 0);
  const std::uint64_t embedding = c.n_vocab * ceil_div(d, vb / 2);  // fp16 rows
  // KV cache: keys dimension-major (per kv head and dimension, 80 positions per vector), values
  // position-major with each head in two half vectors (see docs/lpu.md).
  const std::uint64_t ctx = static_cast<std::uint64_t>(context);
  const std::uint64_t keys = c.n_layer * c.n_head_kv * c.head_dim * ceil_div(ctx, lanes);
  const std::uint64_t values = c.n_layer * c.n_head_kv * ctx * 2;
  // Activations of one decode step: generous bound of 64 residual-width rows plus the logits.
  const std::uint64_t activations =
      64 * ceil_div(std::max({d, q_rows, ff}), lanes) + ceil_div(c.n_vocab, lanes) * 2;

  ModelFootprint f;
  auto add = [&](std::string what, std::uint64_t vectors) {
    f.lines.push_back({std::move(what), vectors, vectors * vb});
    f.total_bytes += vectors * vb;
  };
  // The LM head is stored in MXM layout even when tied to the embedding, which the gather reads
  // as fp16 rows: the two layouts serve different units.
  add(fmt::format("matmul weights ({})", compiler::weight_precision_name(weights)),
      c.n_layer * layer + head);
  add("token embedding (fp16)", embedding);
  add("norms and biases (fp32)", norms);
  add(fmt::format("KV cache (fp32, {} positions)", context), keys + values);
  add("activations (fp32)", activations);
  f.chip_bytes = static_cast<std::uint64_t>(chip.sram_bytes());
  f.chips_needed = static_cast<std::int64_t>(std::max<std::uint64_t>(1, ceil_div(f.total_bytes, f.chip_bytes)));
  return f;
}

}  // namespace lockstep::lpu
