#include "compiler/decode_lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"
#include "compiler/emitter.h"
#include "lpu/arch/floorplan.h"
#include "compiler/mem_allocator.h"
#include "compiler/mxm_weights.h"
#include "lpu/program/program_check.h"
#include "compiler/scheduler.h"
#include "compiler/vector_builder.h"
#include "numerics/dequantize.h"
#include "numerics/half.h"
#include "numerics/tensor_type.h"

namespace lockstep::lpu {
namespace {

constexpr std::int64_t kDefaultContext = 4096;
constexpr std::uint32_t kScoreChains = 4;  // independent q . k chains per head

std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint32_t>((a + b - 1) / b);
}

// Which dimension of a head sits in lane i of its first (half 0) or second (half 1) vector.
std::int64_t head_dim_at(const model::ModelConfig& c, int half, std::int64_t i) {
  if (c.rope_style == model::RopeStyle::AdjacentPairs) return 2 * i + half;
  return i + half * (c.head_dim / 2);
}

// Row `r` of a weight tensor {cols, rows} as fp32 into out[cols].
void weight_row(const model::TensorView& t, std::uint64_t r, float* out) {
  model::dequantize_tensor_row(t, r, std::span<float>(out, t.row_length()));
}

// Everything one compilation shares.
struct Lowering {
  const model::ModelConfig& c;
  const model::Model* m;
  const ChipConfig& chip;
  Program& program;
  Floorplan fp;
  MemAllocator alloc;
  Scheduler scheduler;
  Emitter emitter;
  VectorBuilder vb;
  MxmPlacer placer;
  std::uint32_t lanes;
  std::int64_t context;
  std::uint32_t blocks;  // 80-position blocks of the window

  ElementType type;  // matmul weights and inputs: F16 or I8

  Lowering(const model::ModelConfig& config, const model::Model* model, const ChipConfig& chip_config,
           Program& p, std::int64_t ctx, ElementType weight_type)
      : c(config), m(model), chip(chip_config), program(p), fp(chip_config), alloc(chip_config, fp),
        scheduler(chip_config, fp, p), emitter(scheduler), vb(emitter, alloc),
        placer(chip_config, fp, alloc), lanes(static_cast<std::uint32_t>(chip_config.fp32_lanes())),
        context(ctx), blocks(ceil_div(ctx, chip_config.fp32_lanes())), type(weight_type) {}

  std::uint32_t vectors(std::int64_t n) const { return ceil_div(n, lanes); }

  // A constant fp32 tensor in the weight pool, padded with zeros to whole vectors.
  VTensor constant(const std::string& name, const std::vector<float>& values) {
    const std::uint32_t n = vectors(static_cast<std::int64_t>(values.size()));
    VTensor t{name, alloc.allocate(name, n, std::min<int>(4, n), Pool::Weights)};
    if (m) append_fp32_segments(t.place, values, chip.vector_bytes, program.memory);
    return t;
  }

  // A table of `rows` rows of `row_vectors` vectors, cut into parts that each sit in one bank
  // of one slice (part k holds rows [row_lo, row_lo + rows)).
  std::vector<TableRef> table(const std::string& name, std::int64_t rows, std::int32_t row_vectors,
                              Pool pool) {
    const std::int64_t per_part = chip.vectors_per_bank / row_vectors;
    if (per_part < 1) fail("a row of {} ({} vectors) does not fit one MEM bank", name, row_vectors);
    std::vector<TableRef> parts;
    for (std::int64_t lo = 0; lo < rows;) {
      const auto [p, n] = alloc.allocate_table_part(
          fmt::format("{}.{}", name, lo), static_cast<std::uint32_t>(row_vectors),
          static_cast<std::uint32_t>(std::min(per_part, rows - lo)), pool);
      parts.push_back({p.slices[0], p.addr, row_vectors, static_cast<std::int32_t>(lo),
                       static_cast<std::int32_t>(n)});
      lo += n;
    }
    return parts;
  }

  // Vector i of row `row` of a table.
  static VecRef table_vector(const std::vector<TableRef>& parts, std::int64_t row, std::int64_t i) {
    for (const TableRef& t : parts)
      if (row >= t.row_lo && row < t.row_lo + t.rows)
        return {t.slice, static_cast<std::uint32_t>(t.addr + (row - t.row_lo) * t.row_vectors + i), 1};
    fail("internal compiler error: row {} is in no part of its table", row);
  }

  // The slices of a table seen as a tensor, so that allocations can keep clear of them.
  static VTensor as_tensor(const std::vector<TableRef>& parts) {
    Placed p;
    for (const TableRef& t : parts) p.slices.push_back(t.slice);
    p.vectors = static_cast<std::uint32_t>(p.slices.size());
    return {"table", p};
  }

  std::vector<float> vector_of(const model::TensorView* t) {
    std::vector<float> v(t ? t->element_count() : 0);
    if (t && m) weight_row(*t, 0, v.data());
    return v;
  }

  // A per-head vector (bias, head norm) of heads [first, first + heads), rearranged into the
  // two-vectors-per-head layout.
  std::vector<float> head_layout(const std::vector<float>& v, std::int64_t heads, std::int64_t first = 0) {
    std::vector<float> out(std::size_t(heads) * 2 * lanes, 0.0f);
    if (v.empty()) return out;
    for (std::int64_t h = 0; h < heads; ++h)
      for (int half = 0; half < 2; ++half)
        for (std::int64_t i = 0; i < c.head_dim / 2; ++i)
          out[(2 * h + half) * lanes + i] = v[(first + h) * c.head_dim + head_dim_at(c, half, i)];
    return out;
  }

  // Places a projection and packs its weights (when there are weights).
  MxmWeights projection(const std::string& name, const model::TensorView* t, std::uint32_t rows,
                        std::uint32_t cols,
                        const std::function<void(std::uint32_t, float*, std::vector<float>&)>& row) {
    MxmWeights w = placer.place(name, rows, cols, type);
    if (m && t) {
      std::vector<float> scratch(t->row_length());
      pack_mxm_weights(w, chip, [&](std::uint32_t r, float* out) { row(r, out, scratch); },
                       program.memory);
    }
    return w;
  }

  // Rows of a q/k/v projection in the two-vectors-per-head layout, for heads [first, first + count).
  MxmWeights head_projection(const std::string& name, const model::TensorView* t, std::int64_t first,
                             std::int64_t count) {
    const std::uint32_t rows = static_cast<std::uint32_t>(count * 2 * lanes);
    return projection(name, t, rows, static_cast<std::uint32_t>(c.n_embd),
                      [&, t, first](std::uint32_t r, float* out, std::vector<float>&) {
                        const std::int64_t v = r / lanes, i = r % lanes;
                        if (i >= c.head_dim / 2) return;
                        const std::int64_t h = first + v / 2;
                        weight_row(*t, h * c.head_dim + head_dim_at(c, static_cast<int>(v % 2), i), out);
                      });
  }

  // Natural rows [row_first, row_first + rows) of t (zeros past its last row), with input
  // columns [col_first, col_first + cols) (zeros past its last column).
  MxmWeights row_projection(const std::string& name, const model::TensorView* t, std::int64_t row_first,
                            std::int64_t rows, std::int64_t col_first, std::int64_t cols) {
    return projection(name, t, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(cols),
                      [&, t, row_first, rows, col_first, cols](std::uint32_t r, float* out, std::vector<float>& tmp) {
                        if (r >= rows) return;  // padding to whole vectors
                        const std::int64_t row = row_first + r;
                        const std::int64_t length = static_cast<std::int64_t>(t->row_length());
                        if (row >= static_cast<std::int64_t>(t->element_count()) / length) return;
                        if (col_first == 0 && cols >= length) return weight_row(*t, row, out);
                        weight_row(*t, row, tmp.data());
                        for (std::int64_t j = 0; j < cols && col_first + j < length; ++j)
                          out[j] = tmp[col_first + j];
                      });
  }

  // All natural rows of t, whose input columns come in the head layout of heads
  // [first, first + count) (attn_output).
  MxmWeights head_input_projection(const std::string& name, const model::TensorView* t, std::int64_t rows,
                                   std::int64_t first, std::int64_t count) {
    return projection(name, t, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(count * 2 * lanes),
                      [&, t, rows, first, count](std::uint32_t r, float* out, std::vector<float>& tmp) {
                        if (r >= rows) return;  // padding to whole vectors
                        weight_row(*t, r, tmp.data());
                        for (std::int64_t h = 0; h < count; ++h)
                          for (int half = 0; half < 2; ++half)
                            for (std::int64_t i = 0; i < c.head_dim / 2; ++i)
                              out[(2 * h + half) * lanes + i] = tmp[(first + h) * c.head_dim + head_dim_at(c, half, i)];
                      });
  }

  // RMSNorm of every head (two vectors each) of t, with per-dimension weights w (two vectors).
  VTensor head_norm(const VTensor& t, std::int64_t heads, const VTensor& w, const std::string& name) {
    VTensor out = vb.alloc(name, t.vectors(), 4, {&t});
    for (std::int64_t h = 0; h < heads; ++h) {
      const std::string hn = fmt::format("{}.{}", name, h);
      VTensor sq = vb.alloc(hn + ".sq", 1, 1, {&t});
      vb.map(Opcode::Mul, {{{t.at(2 * h), t.at(2 * h)}, sq.at(0)}}, 0, 0.0f, hn);
      VTensor sq2 = vb.alloc(hn + ".sq2", 1, 1, {&t, &sq});
      vb.map(Opcode::MulAdd, {{{t.at(2 * h + 1), t.at(2 * h + 1), sq.at(0)}, sq2.at(0)}}, 0, 0.0f, hn);
      const VTensor sum = vb.reduce_lanes(Opcode::Add, sq2, hn + ".sum");
      const VTensor mean = vb.unary(Opcode::MulImm, sum, static_cast<float>(1.0 / c.head_dim), hn + ".mean");
      const VTensor eps = vb.unary(Opcode::AddImm, mean, static_cast<float>(c.rms_eps), hn + ".eps");
      const VTensor scale = vb.unary(Opcode::Rsqrt, eps, 0.0f, hn + ".rsqrt");
      for (int half = 0; half < 2; ++half) {
        VTensor scaled = vb.alloc(hn + ".scaled", 1, 1, {&t, &scale});
        vb.map(Opcode::Mul, {{{t.at(2 * h + half), scale.at(0)}, scaled.at(0)}}, 0, 0.0f, hn);
        vb.map(Opcode::Mul, {{{scaled.at(0), w.at(half)}, out.at(2 * h + half)}}, 0, 0.0f, hn);
      }
    }
    return out;
  }

  // RoPE on every head of t (two vectors each): a' = a cos - b sin, b' = a sin + b cos.
  VTensor rope(const VTensor& t, std::int64_t heads, const VTensor& cos, const VTensor& sin,
               const std::string& name) {
    VTensor out = vb.alloc(name, t.vectors(), 4, {&t});
    std::vector<VectorStep> ac, bs, as, bc;
    VTensor t_ac = vb.alloc(name + ".ac", heads, 4, {&t});
    VTensor t_bs = vb.alloc(name + ".bs", heads, 4, {&t});
    VTensor t_as = vb.alloc(name + ".as", heads, 4, {&t});
    VTensor t_bc = vb.alloc(name + ".bc", heads, 4, {&t});
    for (std::int64_t h = 0; h < heads; ++h) {
      const std::uint32_t hv = static_cast<std::uint32_t>(h);
      ac.push_back({{t.at(2 * hv), cos.at(0)}, t_ac.at(hv)});
      bs.push_back({{t.at(2 * hv + 1), sin.at(0)}, t_bs.at(hv)});
      as.push_back({{t.at(2 * hv), sin.at(0)}, t_as.at(hv)});
      bc.push_back({{t.at(2 * hv + 1), cos.at(0)}, t_bc.at(hv)});
    }
    vb.map(Opcode::Mul, ac, 0, 0.0f, name);
    vb.map(Opcode::Mul, bs, 0, 0.0f, name);
    vb.map(Opcode::Mul, as, 0, 0.0f, name);
    vb.map(Opcode::Mul, bc, 0, 0.0f, name);
    std::vector<VectorStep> first, second;
    for (std::uint32_t h = 0; h < heads; ++h) {
      first.push_back({{t_ac.at(h), t_bs.at(h)}, out.at(2 * h)});
      second.push_back({{t_as.at(h), t_bc.at(h)}, out.at(2 * h + 1)});
    }
    vb.map(Opcode::Sub, first, 0, 0.0f, name);
    vb.map(Opcode::Add, second, 0, 0.0f, name);
    return out;
  }
};

}  // namespace

DecodeProgram::DecodeProgram(const model::ModelConfig& config, const model::Model* model,
                             const SystemConfig& system, const DecodeOptions& options,
                             const StageSpec& st)
    : config_(config), chip_(system.chip) {
  const model::ModelConfig& c = config;
  if (c.head_dim % 2 != 0 || c.head_dim / 2 > chip_.fp32_lanes())
    fail("head_dim {} does not fit the two-vectors-per-head layout (at most {})", c.head_dim,
         2 * chip_.fp32_lanes());
  const int P = st.tp_size, rank = st.tp_rank;
  if (P != 1 && P != 2 && P != 4 && P != 8)
    fail("a tensor-parallel degree of {} is not supported (1, 2, 4 or 8: the all-reduce is a butterfly)", P);
  if (rank < 0 || rank >= P) fail("tensor-parallel rank {} is outside 0..{}", rank, P - 1);
  if (c.n_head % P != 0)
    fail("{} has {} query heads, which do not split {} ways", c.name, c.n_head, P);
  const int K = st.ffn_parts, U = 1 + K;  // FFN groups and units per layer
  if (K < 1) fail("an FFN in {} parts is not possible", K);
  const std::int64_t end_unit = st.end_unit < 0 ? U * c.n_layer : st.end_unit;
  if (st.first_unit < 0 || st.first_unit > end_unit || end_unit > U * c.n_layer)
    fail("units {}..{} are outside the model's {} units", st.first_unit, end_unit, U * c.n_layer);
  // Cut inside an FFN: the stage receives (sends) the FFN's input and its running sum.
  const bool acc_in = (!st.embedding || st.embedding_adds) && st.first_unit % U >= 2;
  const bool acc_out = end_unit % U >= 2;
  context_ = options.context > 0 ? options.context : std::min(c.n_ctx_train, kDefaultContext);
  program_.system = system.name;
  rows_ = static_cast<std::uint32_t>(std::max<std::int64_t>(1, options.rows));
  program_.description = rows_ == 1 ? fmt::format("decode {} context {}", c.name, context_)
                                    : fmt::format("prefill {} tokens of {} context {}", rows_, c.name, context_);
  if (P > 1 || !st.embedding || !st.head || st.first_unit > 0 || end_unit < U * c.n_layer)
    program_.description += fmt::format(" units {}..{} of {} x {}-way", st.first_unit, end_unit, rows_, P);

  // This rank's share: query heads, the key/value heads they read, FFN columns, vocabulary rows.
  const std::int64_t group = c.n_head / c.n_head_kv;
  const std::int64_t heads = c.n_head / P, q_first = rank * heads;
  const std::int64_t kv_first = q_first / group;
  const std::int64_t kv_heads = std::max<std::int64_t>(1, heads / group);
  const std::int64_t ffn = (c.n_ff + P - 1) / P, ffn_first = rank * ffn;
  const std::int64_t ffn_group = (ffn + K - 1) / K;  // columns of one FFN part
  vocab_rows_ = (c.n_vocab + P - 1) / P;
  vocab_first_ = rank * vocab_rows_;
  const std::int64_t stage_embedding_rows = st.embedding_rows < 0 ? c.n_vocab : st.embedding_rows;
  const std::int64_t embedding_rows = (stage_embedding_rows + P - 1) / P;  // this rank's
  token_first_ = st.embedding_first + rank * embedding_rows;
  const bool receives = !st.embedding || st.embedding_adds;

  const ElementType weight_type =
      options.weights == compiler::WeightPrecision::Int8 ? ElementType::I8 : ElementType::F16;
  Lowering L(c, model, chip_, program_, context_, weight_type);
  VectorBuilder& vb = L.vb;
  auto mxm_input = [&](const Rows& t, const std::string& name) {
    return prepare_mxm_input(vb, t, weight_type, name);
  };
  const std::uint32_t lanes = L.lanes;
  const std::uint32_t hd = static_cast<std::uint32_t>(c.head_dim);
  const std::uint32_t half = hd / 2;
  vb.zeros();  // constants before any temporary, so that no release frees them

  // ---- Weights and tables.
  const std::uint32_t nv = L.vectors(c.n_embd);
  struct LayerPlan {
    bool attention = false, ffn = false;
    int first_part = 0, end_part = 0;  // the FFN groups [first, end) held here
    VTensor attn_norm, ffn_norm, bq, bk, bv, q_norm, k_norm;
    MxmWeights wq, wk, wv, wo;
    std::vector<MxmWeights> gate, up, down;  // [part - first_part]
    std::vector<std::vector<TableRef>> keys, values;  // [local kv head] -> parts
  };
  std::vector<LayerPlan> layers(c.n_layer);
  for (std::int64_t l = 0; l < c.n_layer; ++l) {
    LayerPlan& lp = layers[l];
    auto held = [&](std::int64_t unit) { return unit >= st.first_unit && unit < end_unit; };
    lp.attention = held(U * l);
    lp.first_part = K;
    for (int k = K - 1; k >= 0; --k)
      if (held(U * l + 1 + k)) lp.first_part = k;
    lp.end_part = lp.first_part;
    while (lp.end_part < K && held(U * l + 1 + lp.end_part)) ++lp.end_part;
    lp.ffn = lp.end_part > lp.first_part;
    const model::LayerWeights* w = model ? &model->layers[l] : nullptr;
    const std::string b = fmt::format("blk.{}.", l);
    if (lp.attention) {
      lp.attn_norm = L.constant(b + "attn_norm", w ? L.vector_of(w->attn_norm) : std::vector<float>(c.n_embd));
      if (c.qkv_bias) {
        lp.bq = L.constant(b + "bq", L.head_layout(L.vector_of(w ? w->bq : nullptr), heads, q_first));
        lp.bk = L.constant(b + "bk", L.head_layout(L.vector_of(w ? w->bk : nullptr), kv_heads, kv_first));
        lp.bv = L.constant(b + "bv", L.head_layout(L.vector_of(w ? w->bv : nullptr), kv_heads, kv_first));
      }
      if (c.qk_norm) {
        lp.q_norm = L.constant(b + "q_norm", L.head_layout(L.vector_of(w ? w->q_norm : nullptr), 1));
        lp.k_norm = L.constant(b + "k_norm", L.head_layout(L.vector_of(w ? w->k_norm : nullptr), 1));
      }
      lp.wq = L.head_projection(b + "attn_q", w ? w->wq : nullptr, q_first, heads);
      lp.wk = L.head_projection(b + "attn_k", w ? w->wk : nullptr, kv_first, kv_heads);
      lp.wv = L.head_projection(b + "attn_v", w ? w->wv : nullptr, kv_first, kv_heads);
      lp.wo = L.head_input_projection(b + "attn_output", w ? w->wo : nullptr, c.n_embd, q_first, heads);
      for (std::int64_t g = 0; g < kv_heads; ++g) {
        lp.keys.push_back(L.table(fmt::format("{}k.{}", b, g), L.blocks, static_cast<std::int32_t>(hd), Pool::Activations));
        lp.values.push_back(L.table(fmt::format("{}v.{}", b, g), L.blocks, static_cast<std::int32_t>(hd), Pool::Activations));
      }
    }
    if (lp.ffn) {
      lp.ffn_norm = L.constant(b + "ffn_norm", w ? L.vector_of(w->ffn_norm) : std::vector<float>(c.n_embd));
      for (int k = lp.first_part; k < lp.end_part; ++k) {
        const std::int64_t first = ffn_first + k * ffn_group;
        const std::int64_t cols = std::max<std::int64_t>(0, std::min(ffn_group, ffn - k * ffn_group));
        const std::string pn = K == 1 ? "" : fmt::format(".{}", k);
        lp.gate.push_back(L.row_projection(b + "ffn_gate" + pn, w ? w->ffn_gate : nullptr, first, cols, 0, c.n_embd));
        lp.up.push_back(L.row_projection(b + "ffn_up" + pn, w ? w->ffn_up : nullptr, first, cols, 0, c.n_embd));
        lp.down.push_back(L.row_projection(b + "ffn_down" + pn, w ? w->ffn_down : nullptr, 0, c.n_embd, first, cols));
      }
    }
  }
  // Lane masks: vector i is 1.0 in lane i, 0 elsewhere (to assemble a head from per-lane sums).
  std::vector<float> masks(std::size_t{lanes} * lanes, 0.0f);
  for (std::uint32_t i = 0; i < lanes; ++i) masks[std::size_t{i} * lanes + i] = 1.0f;
  const VTensor lane_masks = L.constant("const.lane_masks", masks);
  VTensor out_norm;
  MxmWeights head;
  if (st.head) {
    out_norm = L.constant("output_norm", model ? L.vector_of(model->output_norm) : std::vector<float>(c.n_embd));
    head = L.row_projection("output", model ? model->output : nullptr, vocab_first_, vocab_rows_, 0, c.n_embd);
  }
  // The embedding table last among the weights: its parts fill single slices, and placed
  // before the MXM blocks they would raise the start address of every block striped over them.
  // Rows are this rank's vocabulary rows, numbered from 0 (the host shifts the token index).
  const std::uint32_t row_vectors = ceil_div(c.n_embd, chip_.vector_bytes / 2);  // fp16 row
  std::vector<TableRef> embedding;
  if (st.embedding) {
    embedding = L.table("token_embd", embedding_rows, static_cast<std::int32_t>(row_vectors), Pool::Weights);
    if (model)
      for (const TableRef& part : embedding) {
        MemorySegment seg{part.slice, part.addr,
                          std::vector<std::uint8_t>(std::size_t(part.rows) * row_vectors * chip_.vector_bytes, 0)};
        std::vector<float> row(c.n_embd);
        for (std::int64_t r = 0; r < part.rows; ++r) {
          const std::int64_t id = token_first_ + part.row_lo + r;
          if (id >= c.n_vocab || id >= st.embedding_first + stage_embedding_rows) break;
          weight_row(*model->token_embd, id, row.data());
          for (std::int64_t e = 0; e < c.n_embd; ++e) {
            const std::uint16_t h = numerics::fp32_to_fp16(row[e]);
            std::memcpy(&seg.bytes[std::size_t(r) * row_vectors * chip_.vector_bytes + 2 * e], &h, 2);
          }
        }
        program_.memory.push_back(std::move(seg));
      }
  }
  // ---- Host buffers (inputs written before every run), placed after everything that persists
  // between runs, so that decode and prefill programs of one model share the KV cache's addresses.
  auto input = [&](const std::string& name, std::uint32_t n, ElementType type, std::uint32_t elements) {
    VTensor t = vb.alloc("in." + name, n, 1);
    program_.buffers.push_back({name, true, t.place.slices[0], t.place.addr, n, type, elements});
    return t;
  };
  // One vector per row (token) of the chunk; the mask has `blocks` vectors per row.
  const std::uint32_t T = rows_;
  const VTensor token = input("token", T, ElementType::I32, T);
  const VTensor pos_row = input("position", T, ElementType::I32, T);
  const VTensor pos_block = input("position.block", T, ElementType::I32, T);
  const VTensor onehot = input("position.lane", T, ElementType::F32, T * lanes);
  const VTensor rope_cos = input("rope.cos", T, ElementType::F32, T * lanes);
  const VTensor rope_sin = input("rope.sin", T, ElementType::F32, T * lanes);
  const VTensor mask = input("mask", T * L.blocks, ElementType::F32, T * L.blocks * lanes);
  auto one = [](const VTensor& t, std::uint32_t i) {  // vector i of a one-slice tensor, as a tensor
    VTensor r = t;
    r.place.addr += i;
    r.place.vectors = 1;
    return r;
  };

  if (L.alloc.overflowed())
    throw DoesNotFit(fmt::format(
        "{} does not fit one {} chip: it needs {:.1f} MiB of SRAM for a {}-token context, the "
        "chip has {:.1f} MiB ('lockstep compile' says how many chips)",
        c.name, system.name, L.alloc.requested_bytes() / 1048576.0, context_,
        L.alloc.capacity_bytes() / 1048576.0));

  placement_ = L.alloc.log();
  verify_placement(placement_, placement_.size(), chip_);
  L.alloc.set_strict(true);
  // SRAM is short when one row's attention temporaries (per head: scores and value chains over
  // the window, ~2 x head_dim x (blocks + 4) vectors) would take over half of what is left in
  // the activation slices (where temporaries go; striping wastes some of it).
  const bool tight = std::uint64_t(heads) * 2 * hd * (L.blocks + 4) * 2 > L.alloc.free_vectors(Pool::Activations);

  auto add_rows = [&](const Rows& a, const Rows& b, const std::string& name) {
    Rows out = alloc_rows(vb, name, T, a.width, {&a.all, &b.all});
    map_rows(vb, Opcode::Add, {same(a), same(b)}, out);
    return out;
  };
  // The four stripes of a row tensor as (first vector, vectors) on one slice each.
  auto stripes = [&](const Rows& r) {
    std::vector<std::pair<VecRef, std::uint32_t>> out;
    for (int s = 0; s < r.all.place.stripes(); ++s)
      out.push_back({VecRef{r.all.place.slices[s], r.all.place.addr, 1}, r.all.place.stripe_vectors(s)});
    return out;
  };
  const LinkCycles link = st.link;
  // Butterfly all-reduce: at step s every rank swaps its running sum with rank ^ 2^s and adds.
  // Both partners add the same two vectors (a + b == b + a exactly), so all ranks end with the
  // same bits; every rank's program is the same, so its partner's sends leave when its own do.
  // The vectors go in chunks, each through all the steps on its own, so that the steps' links
  // (one channel each) carry different chunks at once instead of one after another.
  constexpr std::uint32_t kAllReduceChunk = 8;  // vectors
  auto all_reduce = [&](const Rows& partial, const std::string& name) {
    if (P == 1) return partial;
    Rows result = alloc_rows(vb, name + ".allreduce", T, partial.width, {&partial.all});
    const auto mine = stripes(partial), out = stripes(result);
    for (std::size_t k = 0; k < mine.size(); ++k)
      for (std::uint32_t first = 0; first < mine[k].second; first += kAllReduceChunk) {
        const std::uint32_t n = std::min(kAllReduceChunk, mine[k].second - first);
        auto chunk = [&](const VecRef& stripe) {
          return VTensor{name, Placed{{stripe.slice}, stripe.addr + first, n}};
        };
        VTensor current = chunk(mine[k].first);
        for (int s = 0; (1 << s) < P; ++s) {
          const std::string sn = fmt::format("{}.allreduce.{}", name, s);
          const VTensor theirs = vb.alloc(sn, n, 1, {&current, &result.all});
          std::vector<std::uint64_t> arrivals =
              L.emitter.send(current.at(0), {kChannelButterfly + s}, n, link.occupancy, sn + " send");
          for (std::uint64_t& a : arrivals) a += link.transfer;
          L.emitter.receive(kChannelButterfly + s, theirs.at(0), arrivals, link.occupancy, sn + " receive");
          const bool last = (2 << s) >= P;
          const VTensor sum = last ? chunk(out[k].first) : vb.alloc(sn + ".sum", n, 1, {&current, &theirs, &result.all});
          std::vector<VectorStep> adds;
          for (std::uint32_t i = 0; i < n; ++i) adds.push_back({{current.at(i), theirs.at(i)}, sum.at(i)});
          vb.map(Opcode::Add, adds, 0, 0.0f, sn + ".sum");
          current = sum;
        }
      }
    return result;
  };

  // ---- The residual stream x: embedded here, or received from the previous stage.
  Rows x = alloc_rows(vb, "x", T, nv);
  Rows acc_received;  // the FFN's running sum, when the stage starts inside an FFN
  if (acc_in) acc_received = alloc_rows(vb, "ffn.sum.in", T, nv, {&x.all});
  // What crosses a stage boundary: x, then the running sum when cut inside an FFN.
  auto boundary = [&](const Rows& x_rows, const Rows* sum) {
    auto out = stripes(x_rows);
    if (sum) for (const auto& s : stripes(*sum)) out.push_back(s);
    return out;
  };
  const auto inbound = boundary(x, acc_in ? &acc_received : nullptr);
  stream_vectors_ = 0;
  for (const auto& part : inbound) stream_vectors_ += part.second;
  if (receives) {
    const int channel = st.ingress ? kChannelInput : kChannelFromIngress;
    if (st.input_arrivals.size() != stream_vectors_)
      fail("internal compiler error: stage input has {} arrivals for {} vectors", st.input_arrivals.size(), stream_vectors_);
    std::size_t next = 0;
    for (const auto& [ref, n] : inbound) {
      const std::vector<std::uint64_t> arrivals(st.input_arrivals.begin() + next, st.input_arrivals.begin() + next + n);
      input_ready_ = std::max(input_ready_, L.emitter.receive(channel, ref, arrivals, link.occupancy, "stage input") +
                                                std::uint64_t{n - 1} * link.occupancy + 8);
      next += n;
    }
    if (st.ingress && P > 1) {
      std::vector<int> peers;
      for (int k = 0; k + 1 < P; ++k) peers.push_back(kChannelForward + k);
      for (const auto& [ref, n] : inbound) {
        const std::vector<std::uint64_t> sent = L.emitter.send(ref, peers, n, link.occupancy, "stage input forward");
        forward_sends_.insert(forward_sends_.end(), sent.begin(), sent.end());
      }
    }
    if (st.input_only) return;
    L.scheduler.set_floor(st.body_floor);
  }
  if (st.embedding) {
    // Per row, gather each part's row (zeros outside its range), widen, and add into a running
    // sum (two alternating buffers; each part's gather buffers are freed once added, so a large
    // vocabulary's parts do not pile up). The last part's sum lands in the row of x (or, with
    // P > 1, of this rank's partial embedding, which the all-reduce completes).
    Rows embedded;  // x plus this stage's part, when x arrived as a partial embedding
    if (st.embedding_adds) embedded = alloc_rows(vb, "embd.total", T, nv, {&x.all});
    const MemAllocator::Mark embedding_mark = L.alloc.mark();
    const VTensor embedding_table = Lowering::as_tensor(embedding);
    Rows rows = P == 1 && !st.embedding_adds ? x : alloc_rows(vb, "embd", T, nv, {&x.all});
    for (std::uint32_t t = 0; t < T; ++t) {
      const MemAllocator::Mark row_mark = L.alloc.mark();
      const VTensor sums[2] = {vb.alloc(fmt::format("embd.sum.{}.0", t), nv, 4, {&token, &embedding_table, &rows.all}),
                               vb.alloc(fmt::format("embd.sum.{}.1", t), nv, 4, {&token, &embedding_table, &rows.all})};
      for (std::size_t pi = 0; pi < embedding.size(); ++pi) {
        const MemAllocator::Mark part_mark = L.alloc.mark();
        VTensor row16 = vb.alloc(fmt::format("embd16.{}.{}", t, pi), row_vectors, 1, {&token, &embedding_table});
        vb.gather(token.at(t), embedding[pi], row16.at(0), row_vectors, "token embedding");
        const VTensor row32 = vb.from_fp16(row16, nv, fmt::format("embd32.{}.{}", t, pi));
        const bool last = pi + 1 == embedding.size();
        std::vector<VectorStep> steps;
        for (std::uint32_t v = 0; v < nv; ++v) {
          const VecRef out = last ? rows.at(t, v) : sums[pi % 2].at(v);
          if (pi == 0) steps.push_back({{row32.at(v)}, out});
          else steps.push_back({{sums[(pi + 1) % 2].at(v), row32.at(v)}, out});
        }
        vb.map(pi == 0 ? Opcode::Move : Opcode::Add, steps, 0, 0.0f, "token embedding sum");
        if (embedding.size() > 1) L.alloc.release(part_mark);
      }
      if (T > 1 || tight) L.alloc.release(row_mark);
    }
    // Each rank gathered its vocabulary rows (zeros for a token outside them).
    const Rows full = P > 1 ? all_reduce(rows, "embd") : rows;
    if (st.embedding_adds) map_rows(vb, Opcode::Add, {same(x), same(full)}, embedded);
    else if (P > 1) map_rows(vb, Opcode::Move, {same(full)}, x);
    if (tight) L.alloc.release(embedding_mark);
    if (st.embedding_adds) x = embedded;
  }

  // RMSNorm of every row: sum of squares per row, then one scale vector per row.
  auto rms_norm = [&](const Rows& in, const VTensor& weight, const std::string& name) {
    Rows sq = alloc_rows(vb, name + ".sq", T, in.width, {&in.all});
    map_rows(vb, Opcode::Mul, {same(in), same(in)}, sq);
    std::vector<VecRef> scales;
    for (std::uint32_t t = 0; t < T; ++t) {
      const std::string rn = fmt::format("{}.{}", name, t);
      const VTensor sum = vb.reduce_lanes(Opcode::Add, vb.reduce_vectors(Opcode::Add, sq.row(t), rn + ".sumv"), rn + ".sum");
      const VTensor mean = vb.unary(Opcode::MulImm, sum, static_cast<float>(1.0 / c.n_embd), rn + ".mean");
      const VTensor shifted = vb.unary(Opcode::AddImm, mean, static_cast<float>(c.rms_eps), rn + ".eps");
      scales.push_back(vb.unary(Opcode::Rsqrt, shifted, 0.0f, rn + ".rsqrt").at(0));
    }
    Rows scaled = alloc_rows(vb, name + ".scaled", T, in.width, {&in.all});
    map_rows(vb, Opcode::Mul, {same(in), one_per_row(scales)}, scaled);
    Rows out = alloc_rows(vb, name, T, in.width, {&scaled.all});
    map_rows(vb, Opcode::Mul, {same(scaled), for_every_row(weight)}, out);
    return out;
  };
  auto add_bias = [&](const Rows& a, const VTensor& bias, const std::string& name) {
    Rows out = alloc_rows(vb, name, T, a.width, {&a.all});
    map_rows(vb, Opcode::Add, {same(a), for_every_row(bias)}, out);
    return out;
  };

  Rows acc_last;  // the running sum a stage cut inside an FFN sends on
  const float score_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
  for (std::int64_t l = 0; l < c.n_layer; ++l) {
    const LayerPlan& lp = layers[l];
    if (!lp.attention && !lp.ffn) continue;
    const std::string b = fmt::format("blk.{}.", l);
    Rows x_next = alloc_rows(vb, b + "out", T, nv, {&x.all});
    const bool cut_after = lp.ffn && lp.end_part < K;  // the stage ends inside this FFN
    Rows acc_sent;
    if (cut_after) acc_sent = alloc_rows(vb, b + "ffn.sum.out", T, nv, {&x.all, &x_next.all});
    const MemAllocator::Mark mark = L.alloc.mark();
    Rows x_mid = x;
    if (lp.attention) {
    const Rows h = rms_norm(x, lp.attn_norm, b + "attn_norm");
    const MxmInput hin = mxm_input(h, b + "attn_in");
    Rows q = project(vb, lp.wq, hin, b + "q");
    Rows k = project(vb, lp.wk, hin, b + "k");
    Rows v = project(vb, lp.wv, hin, b + "v");
    if (c.qkv_bias) {
      q = add_bias(q, lp.bq, b + "q.bias");
      k = add_bias(k, lp.bk, b + "k.bias");
      v = add_bias(v, lp.bv, b + "v.bias");
    }
    Rows attn = alloc_rows(vb, b + "attn", T, static_cast<std::uint32_t>(2 * heads));
    for (std::uint32_t t = 0; t < T; ++t) {
      // Everything of one row's attention is dead once its output is in `attn`.
      const MemAllocator::Mark row_mark = L.alloc.mark();
      const std::string bt = fmt::format("{}{}.", b, t);
      VTensor qt = q.row(t), kt_row = k.row(t);
      if (c.qk_norm) {
        qt = L.head_norm(qt, heads, lp.q_norm, bt + "q_norm");
        kt_row = L.head_norm(kt_row, kv_heads, lp.k_norm, bt + "k_norm");
      }
      const VTensor cos_t = one(rope_cos, t), sin_t = one(rope_sin, t);
      const VTensor qr = L.rope(qt, heads, cos_t, sin_t, bt + "q.rope");
      const VTensor kr = L.rope(kt_row, kv_heads, cos_t, sin_t, bt + "k.rope");
      const VTensor onehot_t = one(onehot, t);
      const VTensor pos_block_t = one(pos_block, t), pos_row_t = one(pos_row, t);

      // Append this position's key and value: per kv head and dimension, one lane of the block
      // column that holds the position (distribute, gather the column, select, scatter back).
      auto append = [&](const VTensor& source, const std::vector<TableRef>& parts, std::int64_t g,
                        const std::string& gn) {
        const VTensor table = Lowering::as_tensor(parts);
        VTensor kd = vb.alloc(gn + ".d", hd, 1, {&source});
        for (std::uint32_t d = 0; d < hd; ++d)
          vb.map(Opcode::Distribute, {{{source.at(static_cast<std::uint32_t>(2 * g) + d / half)}, kd.at(d)}},
                 static_cast<std::int32_t>(d % half), 0.0f, gn);
        // The block column of every part (zeros from parts that do not hold the block), summed.
        VTensor old;
        for (std::size_t part = 0; part < parts.size(); ++part) {
          VTensor got = vb.alloc(gn + ".old", hd, 1, {&kd, &pos_block_t, &table, &old});
          vb.gather(pos_block_t.at(0), parts[part], got.at(0), hd, gn + " column");
          old = part == 0 ? got : vb.binary(Opcode::Add, old, got, gn + ".old.sum");
        }
        VTensor fresh = vb.alloc(gn + ".new", hd, 1, {&kd, &old, &onehot_t, &pos_block_t, &table});
        std::vector<VectorStep> select;
        for (std::uint32_t d = 0; d < hd; ++d) select.push_back({{onehot_t.at(0), kd.at(d), old.at(d)}, fresh.at(d)});
        vb.map(Opcode::Select, select, 0, 0.0f, gn);
        for (const TableRef& part : parts) vb.scatter(pos_block_t.at(0), fresh.at(0), part, hd, gn + " store");
      };
      const VTensor v_row = v.row(t);
      for (std::int64_t g = 0; g < kv_heads; ++g) {
        append(kr, lp.keys[g], g, fmt::format("{}k.{}", bt, g));
        append(v_row, lp.values[g], g, fmt::format("{}v.{}", bt, g));
      }

      // Attention per query head: scores over the window, softmax, weighted sum of values.
      VTensor mask_t = mask;
      mask_t.place.addr += t * L.blocks;
      mask_t.place.vectors = L.blocks;
      for (std::int64_t hq = 0; hq < heads; ++hq) {
        // A head's temporaries are dead once its output is in `attn`; freeing them per head
        // makes the next head wait for their last reads, so only when SRAM is short.
        const MemAllocator::Mark head_mark = L.alloc.mark();
        const std::int64_t g = (q_first + hq) / group - kv_first;
        const std::string hn = fmt::format("{}head.{}", bt, hq);
        VTensor qd = vb.alloc(hn + ".qd", hd, 1, {&qr});
        for (std::uint32_t d = 0; d < hd; ++d)
          vb.map(Opcode::Distribute, {{{qr.at(static_cast<std::uint32_t>(2 * hq) + d / half)}, qd.at(d)}},
                 static_cast<std::int32_t>(d % half), 0.0f, hn);
        const std::vector<TableRef>& kt = lp.keys[g];
        const VTensor key_table = Lowering::as_tensor(kt);
        const VTensor value_table = Lowering::as_tensor(lp.values[g]);
        // q . k over the head's dimensions as kScoreChains independent multiply-add chains
        // (dimension d in chain d mod kScoreChains), summed at the end: a quarter of the
        // dependent steps of one chain.
        std::vector<VTensor> chain(std::min<std::uint32_t>(kScoreChains, hd));
        for (std::uint32_t d = 0; d < hd; ++d) {
          VTensor& acc = chain[d % chain.size()];
          const bool first = d < chain.size();
          VTensor next = vb.alloc(fmt::format("{}.s{}", hn, d), L.blocks, 1, {&qd, &acc, &key_table});
          std::vector<VectorStep> steps;
          for (std::uint32_t blk = 0; blk < L.blocks; ++blk) {
            const VecRef key = Lowering::table_vector(kt, blk, d);
            if (first) steps.push_back({{qd.at(d), key}, next.at(blk)});
            else steps.push_back({{qd.at(d), key, acc.at(blk)}, next.at(blk)});
          }
          vb.map(first ? Opcode::Mul : Opcode::MulAdd, steps, 0, 0.0f, hn + " scores");
          acc = next;
        }
        while (chain.size() > 1) {  // pairwise: (c0 + c1) + (c2 + c3)
          std::vector<VTensor> sums;
          for (std::size_t i = 0; i + 1 < chain.size(); i += 2)
            sums.push_back(vb.binary(Opcode::Add, chain[i], chain[i + 1], hn + ".scores.sum"));
          if (chain.size() % 2) sums.push_back(chain.back());
          chain = std::move(sums);
        }
        const VTensor acc = chain[0];
        const VTensor scaled = vb.unary(Opcode::MulImm, acc, score_scale, hn + ".scaled");
        const VTensor masked = vb.binary(Opcode::Add, scaled, mask_t, hn + ".masked");
        const VTensor mx = vb.reduce_lanes(Opcode::Max, vb.reduce_vectors(Opcode::Max, masked, hn + ".maxv"), hn + ".max");
        const VTensor shifted = vb.binary(Opcode::Sub, masked, mx, hn + ".shifted");
        const VTensor e = vb.unary(Opcode::Exp, shifted, 0.0f, hn + ".exp");
        const VTensor sum = vb.reduce_lanes(Opcode::Add, vb.reduce_vectors(Opcode::Add, e, hn + ".sumv"), hn + ".sum");
        const VTensor inv = vb.binary(Opcode::Div, vb.ones(), sum, hn + ".inv");
        const VTensor p = vb.binary(Opcode::Mul, e, inv, hn + ".p");
        // out[d] = sum over positions of p * v[d]: per dimension a multiply-add chain over the
        // blocks (80 positions per lane), a lane sum, and the sum placed in its lane of the head.
        const std::vector<TableRef>& vt = lp.values[g];
        VTensor head_out[2];
        for (std::uint32_t d = 0; d < hd; ++d) {
          VTensor acc_d;
          for (std::uint32_t blk = 0; blk < L.blocks; ++blk) {
            VTensor next = vb.alloc(hn + ".pv", 1, 1, {&p, &acc_d, &value_table});
            const VecRef value = Lowering::table_vector(vt, blk, d);
            if (blk == 0) vb.map(Opcode::Mul, {{{p.at(blk), value}, next.at(0)}}, 0, 0.0f, hn + " pv");
            else vb.map(Opcode::MulAdd, {{{p.at(blk), value, acc_d.at(0)}, next.at(0)}}, 0, 0.0f, hn + " pv");
            acc_d = next;
          }
          const VTensor total = vb.reduce_lanes(Opcode::Add, acc_d, hn + ".pvsum");
          const std::uint32_t hf = d / half, lane = d % half;
          VTensor& o = head_out[hf];
          const bool last = lane + 1 == half;
          const VecRef out = last ? attn.at(t, static_cast<std::uint32_t>(2 * hq + hf))
                                  : vb.alloc(hn + ".o", 1, 1, {&total, &o, &lane_masks}).at(0);
          const VecRef previous = lane == 0 ? vb.zeros().at(0) : o.at(0);
          vb.map(Opcode::Select, {{{lane_masks.at(lane), total.at(0), previous}, out}}, 0, 0.0f, hn);
          if (!last) o = VTensor{hn + ".o", Placed{{out.slice}, out.addr, 1}};
        }
        if (tight) L.alloc.release(head_mark);
      }
      L.alloc.release(row_mark);
    }

    const Rows o = all_reduce(project(vb, lp.wo, mxm_input(attn, b + "attn_mx"), b + "attn_out"), b + "attn_out");
    x_mid = add_rows(x, o, b + "resid");
    }
    if (!lp.ffn) {
      map_rows(vb, Opcode::Move, {same(x_mid)}, x_next);
    } else {
    const Rows h2 = rms_norm(x_mid, lp.ffn_norm, b + "ffn_norm");
    const MxmInput h2in = mxm_input(h2, b + "ffn_in");
    // The running sum of the FFN groups: received when this stage starts inside the FFN.
    Rows sum;
    bool have_sum = lp.first_part > 0;
    if (have_sum) sum = acc_received;
    for (int k = lp.first_part; k < lp.end_part; ++k) {
    const std::size_t i = static_cast<std::size_t>(k - lp.first_part);
    const std::string bk = K == 1 ? b : fmt::format("{}{}.", b, k);
    const Rows gate = project(vb, lp.gate[i], h2in, bk + "gate");
    const Rows up = project(vb, lp.up[i], h2in, bk + "up");
    // silu(g) * u = g / (1 + exp(-g)) * u, in the reference's order.
    auto unary_rows = [&](Opcode op, const Rows& a, float fimm, const std::string& name) {
      Rows out = alloc_rows(vb, name, T, a.width, {&a.all});
      map_rows(vb, op, {same(a)}, out, 0, fimm);
      return out;
    };
    const Rows neg = unary_rows(Opcode::MulImm, gate, -1.0f, bk + "neg");
    const Rows ex = unary_rows(Opcode::Exp, neg, 0.0f, bk + "expneg");
    const Rows den = unary_rows(Opcode::AddImm, ex, 1.0f, bk + "den");
    Rows silu = alloc_rows(vb, bk + "silu", T, gate.width, {&gate.all, &den.all});
    map_rows(vb, Opcode::Div, {same(gate), same(den)}, silu);
    Rows act = alloc_rows(vb, bk + "act", T, gate.width, {&silu.all, &up.all});
    map_rows(vb, Opcode::Mul, {same(silu), same(up)}, act);
    const Rows down = all_reduce(project(vb, lp.down[i], mxm_input(act, bk + "act_mx"), bk + "down"), bk + "down");
    sum = have_sum ? add_rows(sum, down, bk + "ffn.sum") : down;
    have_sum = true;
    }
    if (cut_after) {  // x stays the FFN's input; the next stage finishes the sum
      map_rows(vb, Opcode::Move, {same(x_mid)}, x_next);
      map_rows(vb, Opcode::Move, {same(sum)}, acc_sent);
    } else {
      map_rows(vb, Opcode::Add, {same(x_mid), same(sum)}, x_next);
    }
    }
    L.alloc.release(mark);
    x = x_next;
    if (cut_after) acc_last = acc_sent;
  }

  if (st.head) {
    const Rows hn = rms_norm(x, out_norm, "output_norm");
    const Rows logits = project(vb, head, mxm_input(hn, "head_in"), "logits");
    logits_stride_ = logits.stride;
    for (int s = 0; s < logits.all.place.stripes(); ++s)
      program_.buffers.push_back({fmt::format("logits.{}", s), false, logits.all.place.slices[s],
                                  logits.all.place.addr, logits.all.place.stripe_vectors(s), ElementType::F32,
                                  logits.all.place.stripe_vectors(s) * lanes});
  }
  if (st.egress)
    for (const auto& [ref, n] : boundary(x, acc_out ? &acc_last : nullptr)) {
      const std::vector<std::uint64_t> sent = L.emitter.send(ref, {kChannelOutput}, n, link.occupancy, "stage output");
      output_sends_.insert(output_sends_.end(), sent.begin(), sent.end());
    }
  program_.predicted_cycles = L.scheduler.finish();
  // The scheduling pass's verifier: the structural rules, and the run length it predicts.
  check_program(program_, chip_, L.fp);
  if (program_end_cycle(program_, chip_) != program_.predicted_cycles)
    fail("internal compiler error: the schedule's length disagrees with its instructions");
  sram_bytes_ = L.alloc.used_bytes();
}

std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> DecodeProgram::inputs(
    std::span<const std::int32_t> tokens, std::int64_t pos) const {
  return decode_inputs(config_, chip_, program_.buffers, rows_, context_, token_first_, tokens, pos);
}

std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> decode_inputs(
    const model::ModelConfig& config, const ChipConfig& chip, const std::vector<HostBuffer>& buffers,
    std::uint32_t rows, std::int64_t context, std::int64_t vocab_first,
    std::span<const std::int32_t> tokens, std::int64_t pos) {
  if (tokens.size() != rows)
    fail("this program takes {} tokens per run, given {}", rows, tokens.size());
  if (pos < 0 || pos + static_cast<std::int64_t>(rows) > context)
    fail("positions {}..{} are outside the compiled context of {} tokens", pos,
         pos + static_cast<std::int64_t>(rows) - 1, context);
  for (std::int32_t token : tokens)
    if (token < 0 || token >= config.n_vocab)
      fail("token {} is outside the vocabulary of {} tokens", token, config.n_vocab);
  const int lanes = chip.fp32_lanes();
  const std::size_t vb = chip.vector_bytes;
  std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> out;
  for (const HostBuffer& b : buffers) {
    if (!b.is_input) continue;
    std::vector<std::uint8_t> bytes(std::size_t{b.vectors} * vb, 0);
    const std::uint32_t per_row = b.vectors / rows;  // vectors of one row
    for (std::uint32_t t = 0; t < rows; ++t) {
      std::uint8_t* row = bytes.data() + std::size_t{t} * per_row * vb;
      const std::int64_t p = pos + t;
      auto put_i32 = [&](std::int32_t v) { std::memcpy(row, &v, 4); };
      auto put_f32 = [&](std::size_t lane, float v) { std::memcpy(row + 4 * lane, &v, 4); };
      if (b.name == "token") put_i32(static_cast<std::int32_t>(tokens[t] - vocab_first));
      else if (b.name == "position") put_i32(static_cast<std::int32_t>(p));
      else if (b.name == "position.block") put_i32(static_cast<std::int32_t>(p / lanes));
      else if (b.name == "position.lane") put_f32(static_cast<std::size_t>(p % lanes), 1.0f);
      else if (b.name == "rope.cos" || b.name == "rope.sin") {
        // As reference::apply_rope computes them: theta in double, rounded to float once.
        const std::int64_t d = config.head_dim;
        for (std::int64_t i = 0; i < d / 2; ++i) {
          const double theta = model::rope_angle(config, p, i);
          put_f32(static_cast<std::size_t>(i),
                  static_cast<float>(b.name == "rope.cos" ? std::cos(theta) : std::sin(theta)));
        }
      } else if (b.name == "mask") {
        // Causal: row t sees positions up to its own.
        for (std::int64_t j = 0; j < std::int64_t{per_row} * lanes; ++j)
          put_f32(static_cast<std::size_t>(j), j <= p ? 0.0f : -INFINITY);
      } else {
        fail("internal error: no input named {}", b.name);
      }
    }
    out.push_back({b, std::move(bytes)});
  }
  return out;
}

std::vector<float> DecodeProgram::logits(
    const std::function<std::vector<std::uint8_t>(const HostBuffer&)>& read) const {
  return decode_logits(program_.buffers, rows_, vocab_rows_, logits_stride_, chip_.fp32_lanes(), read);
}

std::vector<float> decode_logits(const std::vector<HostBuffer>& buffers, std::uint32_t rows,
                                 std::int64_t vocab_rows, std::uint32_t logits_stride, int fp32_lanes,
                                 const std::function<std::vector<std::uint8_t>(const HostBuffer&)>& read) {
  const std::size_t n_vocab = static_cast<std::size_t>(vocab_rows);
  std::vector<float> out(n_vocab * rows, 0.0f);
  const std::uint32_t lanes = static_cast<std::uint32_t>(fp32_lanes);
  for (const HostBuffer& b : buffers) {
    if (b.is_input) continue;
    const std::uint32_t s = static_cast<std::uint32_t>(std::stoi(b.name.substr(b.name.find('.') + 1)));
    const std::vector<std::uint8_t> bytes = read(b);
    // Stripe s holds vectors u = 4k + s; vector u is row u / stride, vector u % stride of it.
    for (std::uint32_t k = 0; k < b.vectors; ++k) {
      const std::uint32_t u = 4 * k + s;
      const std::uint32_t t = u / logits_stride, v = u % logits_stride;
      for (std::uint32_t l = 0; l < lanes; ++l) {
        const std::size_t e = std::size_t{v} * lanes + l;
        if (e < n_vocab)
          std::memcpy(&out[t * n_vocab + e], &bytes[(std::size_t{k} * lanes + l) * 4], 4);
      }
    }
  }
  return out;
}

}  // namespace lockstep::lpu
