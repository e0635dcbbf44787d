#include "compiler/step_lowering.h"

#include "compiler/all_reduce_lowering.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"
#include "lpu/program/host_interface.h"
#include "lpu/program/program_check.h"
#include "numerics/dequantize.h"
#include "numerics/half.h"

namespace lockstep::compiler {
namespace {

using graph::OpKind;

std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint32_t>((a + b - 1) / b);
}

// Row `r` of a weight tensor {cols, rows} as fp32 into out[cols].
void weight_row(const model::TensorView& t, std::uint64_t r, float* out) {
  model::dequantize_tensor_row(t, r, std::span<float>(out, t.row_length()));
}

}  // namespace

StepLowering::StepLowering(const graph::Graph& graph, const model::ModelConfig& config,
                           const model::Model* model, const SystemConfig& system, const DecodeOptions& options,
                           const StageSpec& st, Program& program, std::int64_t context, std::uint32_t rows,
                           int load_width)
    : c_(config), m_(model), chip_(system.chip), system_(system), graph_(&graph), st_(st), program_(program),
      fp_(system.chip), alloc_(system.chip, fp_), scheduler_(system.chip, fp_, program), emitter_(scheduler_),
      vb_(emitter_, alloc_), placer_(system.chip, fp_, alloc_, load_width),
      lanes_(static_cast<std::uint32_t>(system.chip.fp32_lanes())), context_(context),
      blocks_(ceil_div(context, system.chip.fp32_lanes())), T_(rows), probe_(options.probe) {
  const model::ModelConfig& c = c_;
  P_ = st.tp_size;
  rank_ = st.tp_rank;
  K_ = st.ffn_parts;
  U_ = 1 + K_;
  end_unit_ = st.end_unit < 0 ? U_ * c.n_layer : st.end_unit;
  // Cut inside an FFN: the stage receives (sends) the FFN's input and its running sum.
  acc_in_ = (!st.embedding || st.embedding_adds) && st.first_unit % U_ >= 2;
  acc_out_ = end_unit_ % U_ >= 2;
  // This rank's share: query heads, the key/value heads they read, FFN columns, vocabulary rows.
  group_ = c.n_head / c.n_head_kv;
  heads_ = c.n_head / P_;
  q_first_ = rank_ * heads_;
  kv_first_ = q_first_ / group_;
  kv_heads_ = std::max<std::int64_t>(1, heads_ / group_);
  ffn_ = (c.n_ff + P_ - 1) / P_;
  ffn_first_ = rank_ * ffn_;
  ffn_group_ = (ffn_ + K_ - 1) / K_;  // columns of one FFN part
  vocab_rows_ = (c.n_vocab + P_ - 1) / P_;
  vocab_first_ = rank_ * vocab_rows_;
  stage_embedding_rows_ = st.embedding_rows < 0 ? c.n_vocab : st.embedding_rows;
  embedding_rows_ = (stage_embedding_rows_ + P_ - 1) / P_;  // this rank's
  token_first_ = st.embedding_first + rank_ * embedding_rows_;
  nv_ = vectors(c.n_embd);
  row_vectors_ = ceil_div(c.n_embd, chip_.vector_bytes / 2);  // fp16 row

  vb_.zeros();  // constants before any temporary, so that no release frees them
  layers_.resize(static_cast<std::size_t>(c.n_layer));
  for (std::int64_t l = 0; l < c.n_layer; ++l) place_layer(l);
  // Lane masks: vector i is 1.0 in lane i, 0 elsewhere (to assemble a head from per-lane sums).
  std::vector<float> masks(std::size_t{lanes_} * lanes_, 0.0f);
  for (std::uint32_t i = 0; i < lanes_; ++i) masks[std::size_t{i} * lanes_ + i] = 1.0f;
  lane_masks_ = constant("const.lane_masks", masks);
  if (st.head) {
    vectors_["output_norm.weight"] =
        constant("output_norm", m_ ? vector_of(m_->output_norm) : std::vector<float>(c.n_embd));
    matrices_["output"] = {row_projection("output", "output", m_ ? m_->output : nullptr, vocab_first_, vocab_rows_, 0, c.n_embd)};
  }
  place_embedding();
  place_kv_cache();
  // ---- Host buffers (inputs written before every run), placed after everything that persists
  // between runs, so that decode and prefill programs of one model share the KV cache's addresses.
  // One vector per row (token) of the chunk; the mask has `blocks` vectors per row.
  token_ = input_buffer("token", T_, ElementType::I32, T_);
  pos_row_ = input_buffer("position", T_, ElementType::I32, T_);
  pos_block_ = input_buffer("position.block", T_, ElementType::I32, T_);
  onehot_ = input_buffer("position.lane", T_, ElementType::F32, T_ * lanes_);
  rope_cos_ = input_buffer("rope.cos", T_, ElementType::F32, T_ * lanes_);
  rope_sin_ = input_buffer("rope.sin", T_, ElementType::F32, T_ * lanes_);
  mask_ = input_buffer("mask", T_ * blocks_, ElementType::F32, T_ * blocks_ * lanes_);

  if (alloc_.overflowed())
    throw DoesNotFit(fmt::format(
        "{} does not fit one {} chip: it needs {:.1f} MiB of SRAM for a {}-token context, the "
        "chip has {:.1f} MiB ('lockstep compile' says how many chips)",
        c.name, system.name, alloc_.requested_bytes() / 1048576.0, context_,
        alloc_.capacity_bytes() / 1048576.0));
  placement_ = alloc_.log();
  verify_placement(placement_, placement_.size(), chip_);
  alloc_.set_strict(true);
  // SRAM is short when one row's attention temporaries (per head: scores and value chains over
  // the window, ~2 x head_dim x (blocks + 4) vectors) would take over half of what is left in
  // the activation slices (where temporaries go; striping wastes some of it).
  tight_ = std::uint64_t(heads_) * 2 * c.head_dim * (blocks_ + 4) * 2 > alloc_.free_vectors(Pool::Activations);
}

// ---- Placement.

void StepLowering::place_layer(std::int64_t l) {
  const model::ModelConfig& c = c_;
  LayerPlacement& lp = layers_[static_cast<std::size_t>(l)];
  auto held_unit = [&](std::int64_t unit) { return unit >= st_.first_unit && unit < end_unit_; };
  lp.attention = held_unit(U_ * l);
  lp.first_part = K_;
  for (int k = K_ - 1; k >= 0; --k)
    if (held_unit(U_ * l + 1 + k)) lp.first_part = k;
  lp.end_part = lp.first_part;
  while (lp.end_part < K_ && held_unit(U_ * l + 1 + lp.end_part)) ++lp.end_part;
  lp.ffn = lp.end_part > lp.first_part;
  const model::LayerWeights* w = m_ ? &m_->layers[static_cast<std::size_t>(l)] : nullptr;
  const std::string b = fmt::format("blk.{}.", l);
  if (lp.attention) {
    vectors_[b + "attn_norm.weight"] = constant(b + "attn_norm", w ? vector_of(w->attn_norm) : std::vector<float>(c.n_embd));
    if (c.qkv_bias) {
      vectors_[b + "attn_q.bias"] = constant(b + "bq", head_layout(vector_of(w ? w->bq : nullptr), heads_, q_first_));
      vectors_[b + "attn_k.bias"] = constant(b + "bk", head_layout(vector_of(w ? w->bk : nullptr), kv_heads_, kv_first_));
      vectors_[b + "attn_v.bias"] = constant(b + "bv", head_layout(vector_of(w ? w->bv : nullptr), kv_heads_, kv_first_));
    }
    if (c.qk_norm) {
      vectors_[b + "attn_q_norm.weight"] = constant(b + "q_norm", head_layout(vector_of(w ? w->q_norm : nullptr), 1));
      vectors_[b + "attn_k_norm.weight"] = constant(b + "k_norm", head_layout(vector_of(w ? w->k_norm : nullptr), 1));
    }
    head_rows_[b + "attn_q"] = heads_;
    head_rows_[b + "attn_k"] = head_rows_[b + "attn_v"] = kv_heads_;
    matrices_[b + "attn_q"] = {head_projection(b + "attn_q", w ? w->wq : nullptr, q_first_, heads_)};
    matrices_[b + "attn_k"] = {head_projection(b + "attn_k", w ? w->wk : nullptr, kv_first_, kv_heads_)};
    matrices_[b + "attn_v"] = {head_projection(b + "attn_v", w ? w->wv : nullptr, kv_first_, kv_heads_)};
    matrices_[b + "attn_output"] = {head_input_projection(b + "attn_output", w ? w->wo : nullptr, c.n_embd, q_first_, heads_)};
  }
  if (lp.ffn) {
    vectors_[b + "ffn_norm.weight"] = constant(b + "ffn_norm", w ? vector_of(w->ffn_norm) : std::vector<float>(c.n_embd));
    for (int k = lp.first_part; k < lp.end_part; ++k) {
      const std::int64_t first = ffn_first_ + k * ffn_group_;
      const std::int64_t cols = std::max<std::int64_t>(0, std::min(ffn_group_, ffn_ - k * ffn_group_));
      const std::string pn = K_ == 1 ? "" : fmt::format(".{}", k);
      const std::string gate = b + "ffn_gate", up = b + "ffn_up", down = b + "ffn_down";
      matrices_[gate].push_back(row_projection(gate, gate + pn, w ? w->ffn_gate : nullptr, first, cols, 0, c.n_embd));
      matrices_[up].push_back(row_projection(up, up + pn, w ? w->ffn_up : nullptr, first, cols, 0, c.n_embd));
      matrices_[down].push_back(row_projection(down, down + pn, w ? w->ffn_down : nullptr, 0, c.n_embd, first, cols));
    }
  }
}

// The KV cache after every weight, in the room the weights leave at the top of their slices
// (placed before them, its tables would raise the start address of the MXM blocks striped over
// those slices); far from the VXM costs attention no time, as a key or value is never waited
// for, and it leaves the slices nearest the VXM to the temporaries that are.
//
// The value tables are cut into up to 32 parts per kv head (p.V's chains each read their own
// slice), but a chip that holds many kv heads gets fewer: every part is a table of its own whose
// rows must sit in one bank, and past about 256 of them per chip the bank tails they leave
// starve the temporaries (Qwen3-0.6B on one 8-chip node, 28 layers per chip, fits with 8 parts
// and not with 16).
void StepLowering::place_kv_cache() {
  std::int64_t held = 0;  // kv heads this chip caches
  for (const LayerPlacement& lp : layers_) held += lp.attention ? kv_heads_ : 0;
  constexpr std::int64_t kMaxValueParts = 32, kMinValueParts = 4, kPartsPerChip = 256;
  value_parts_ = kMaxValueParts;
  while (value_parts_ > kMinValueParts && held * value_parts_ > kPartsPerChip) value_parts_ /= 2;
  for (std::int64_t l = 0; l < c_.n_layer; ++l) {
    LayerPlacement& lp = layers_[static_cast<std::size_t>(l)];
    if (!lp.attention) continue;
    for (std::int64_t g = 0; g < kv_heads_; ++g) {
      std::vector<int> avoid;  // the kv head's keys and values on slices of their own
      lp.keys.push_back(key_table(fmt::format("blk.{}.k.{}", l, g), avoid));
      lp.values.push_back(kv_table(fmt::format("blk.{}.v.{}", l, g), avoid));
    }
  }
}

// The embedding table last among the weights: its parts fill single slices, and placed before
// the MXM blocks they would raise the start address of every block striped over them. Rows are
// this rank's vocabulary rows, numbered from 0 (the host shifts the token index).
void StepLowering::place_embedding() {
  if (!st_.embedding) return;
  embedding_ = table("token_embd", embedding_rows_, static_cast<std::int32_t>(row_vectors_), Pool::Weights);
  if (!m_) return;
  for (const TableRef& part : embedding_) {
    MemorySegment seg{part.slice, part.addr,
                      std::vector<std::uint8_t>(std::size_t(part.rows) * row_vectors_ * chip_.vector_bytes, 0)};
    std::vector<float> row(c_.n_embd);
    for (std::int64_t r = 0; r < part.rows; ++r) {
      const std::int64_t id = token_first_ + part.row_lo + r;
      if (id >= c_.n_vocab || id >= st_.embedding_first + stage_embedding_rows_) break;
      weight_row(*m_->token_embd, id, row.data());
      for (std::int64_t e = 0; e < c_.n_embd; ++e) {
        const std::uint16_t h = numerics::fp32_to_fp16(row[e]);
        std::memcpy(&seg.bytes[std::size_t(r) * row_vectors_ * chip_.vector_bytes + 2 * e], &h, 2);
      }
    }
    program_.memory.push_back(std::move(seg));
  }
}

VTensor StepLowering::input_buffer(const std::string& name, std::uint32_t n, ElementType type,
                                   std::uint32_t elements) {
  VTensor t = vb_.alloc("in." + name, n, 1);
  program_.buffers.push_back({name, true, t.place.slices[0], t.place.addr, n, type, elements,
                              host_role_from_name(name)});  // the host fills it by its role
  return t;
}

// A constant fp32 tensor in the weight pool, padded with zeros to whole vectors.
VTensor StepLowering::constant(const std::string& name, const std::vector<float>& values) {
  const std::uint32_t n = vectors(static_cast<std::int64_t>(values.size()));
  VTensor t{name, alloc_.allocate(name, n, std::min<int>(4, n), Pool::Weights)};
  if (m_) append_fp32_segments(t.place, values, chip_.vector_bytes, program_.memory);
  return t;
}

// A table of `rows` rows of `row_vectors` vectors, cut into parts that each sit in one bank of
// one slice (part k holds rows [row_lo, row_lo + rows)).
std::vector<TableRef> StepLowering::table(const std::string& name, std::int64_t rows, std::int32_t row_vectors,
                                          Pool pool, const std::vector<int>& avoid) {
  const std::int64_t per_part = chip_.vectors_per_bank / row_vectors;
  if (per_part < 1) fail("a row of {} ({} vectors) does not fit one MEM bank", name, row_vectors);
  std::vector<TableRef> parts;
  for (std::int64_t lo = 0; lo < rows;) {
    const auto [p, n] = alloc_.allocate_table_part(
        fmt::format("{}.{}", name, lo), static_cast<std::uint32_t>(row_vectors),
        static_cast<std::uint32_t>(std::min(per_part, rows - lo)), pool, avoid);
    parts.push_back({p.slices[0], p.addr, row_vectors, static_cast<std::int32_t>(lo), static_cast<std::int32_t>(n)});
    lo += n;
  }
  return parts;
}

// One kv head's values: the head's dimensions dealt to value_parts_ parts, each on a slice
// outside `avoid` where there is room (the slices taken are added to it).
KvTable StepLowering::kv_table(const std::string& name, std::vector<int>& avoid) {
  const std::uint32_t hd = static_cast<std::uint32_t>(c_.head_dim);
  const std::uint32_t parts = static_cast<std::uint32_t>(std::min<std::int64_t>(value_parts_, hd));
  KvTable t;
  for (std::uint32_t p = 0; p < parts; ++p) {
    const auto dims = static_cast<std::int32_t>(KvTable::dims_in(p, parts, hd));
    t.parts.push_back(table(fmt::format("{}.d{}", name, p), blocks_, dims, Pool::Weights, avoid));
    for (const TableRef& part : t.parts.back()) avoid.push_back(part.slice);
  }
  return t;
}

KeyTable StepLowering::key_table(const std::string& name, std::vector<int>& avoid) {
  const std::uint32_t positions = blocks_ * lanes_;  // whole fp32 vectors of scores
  const std::uint32_t block_rows = static_cast<std::uint32_t>(chip_.mxm_plane_rows);
  const std::uint32_t bank = static_cast<std::uint32_t>(chip_.vectors_per_bank);
  KeyTable k;
  MxmWeights& w = k.weights;
  w.name = name;
  w.type = ElementType::F16;
  w.rows = positions;
  w.chunks = 1;
  w.cols = static_cast<std::uint32_t>(chip_.vector_bytes / 2);
  w.blocks = (positions + block_rows - 1) / block_rows;
  for (std::uint32_t j = 0; j < w.blocks; ++j) {
    const std::uint32_t first = j * block_rows, rows = std::min(block_rows, positions - first);
    const Placed p = alloc_.allocate(fmt::format("{}.{}", name, j), rows, 1, Pool::Weights, avoid);
    avoid.push_back(p.slices[0]);
    w.placed.push_back({static_cast<int>(j % static_cast<std::uint32_t>(fp_.mxm_planes())), p.slices, p.addr, rows});
    for (std::uint32_t r = 0; r < rows;) {  // one-bank runs, for the appends' Scatters
      const std::uint32_t n = std::min(rows - r, bank - (p.addr + r) % bank);
      k.parts.push_back({p.slices[0], p.addr + r, 1, static_cast<std::int32_t>(first + r), static_cast<std::int32_t>(n)});
      r += n;
    }
  }
  return k;
}

VecRef KvTable::at(std::int64_t block, std::int64_t dim) const {
  const auto d = static_cast<std::uint32_t>(dim);
  for (const TableRef& t : parts.at(part_of(d)))
    if (block >= t.row_lo && block < t.row_lo + t.rows)
      return {t.slice, static_cast<std::uint32_t>(t.addr + (block - t.row_lo) * t.row_vectors + index_of(d)), 1};
  fail("internal compiler error: block {} is in no part of its KV table", block);
}

std::vector<int> KvTable::slices() const {
  std::vector<int> out;
  for (const auto& part : parts)
    for (const TableRef& t : part) out.push_back(t.slice);
  return out;
}

std::vector<float> StepLowering::vector_of(const model::TensorView* t) {
  std::vector<float> v(t ? t->element_count() : 0);
  if (t && m_) weight_row(*t, 0, v.data());
  return v;
}

// A per-head vector (bias, head norm) of heads [first, first + heads), rearranged into the
// two-vectors-per-head layout.
std::vector<float> StepLowering::head_layout(const std::vector<float>& v, std::int64_t heads, std::int64_t first) {
  std::vector<float> out(std::size_t(heads) * 2 * lanes_, 0.0f);
  if (v.empty()) return out;
  for (std::int64_t h = 0; h < heads; ++h)
    for (int half = 0; half < 2; ++half)
      for (std::int64_t i = 0; i < c_.head_dim / 2; ++i)
        out[(2 * h + half) * lanes_ + i] = v[(first + h) * c_.head_dim + head_dim_at(c_, half, i)];
  return out;
}

ElementType StepLowering::mxm_type(const std::string& op) const {
  for (const graph::Op& o : graph_->ops)
    if (o.kind == OpKind::MatMul && o.name == op)
      return graph_->tensors[static_cast<std::size_t>(o.inputs[1])].precision == graph::Precision::Int8
                 ? ElementType::I8
                 : ElementType::F16;
  fail("internal compiler error: the step graph has no matmul '{}'", op);
}

// Places a projection and packs its weights (when there are weights).
MxmWeights StepLowering::projection(const std::string& op, const std::string& name, const model::TensorView* t,
                                    std::uint32_t rows, std::uint32_t cols,
                                    const std::function<void(std::uint32_t, float*, std::vector<float>&)>& row) {
  MxmWeights w = placer_.place(name, rows, cols, mxm_type(op));
  if (m_ && t) {
    std::vector<float> scratch(t->row_length());
    pack_mxm_weights(w, chip_, [&](std::uint32_t r, float* out) { row(r, out, scratch); }, program_.memory);
  }
  return w;
}

// Rows of a q/k/v projection in the two-vectors-per-head layout, for heads [first, first + count).
MxmWeights StepLowering::head_projection(const std::string& op, const model::TensorView* t, std::int64_t first,
                                         std::int64_t count) {
  const std::uint32_t rows = static_cast<std::uint32_t>(count * 2 * lanes_);
  return projection(op, op, t, rows, static_cast<std::uint32_t>(c_.n_embd),
                    [&, t, first](std::uint32_t r, float* out, std::vector<float>&) {
                      const std::int64_t v = r / lanes_, i = r % lanes_;
                      if (i >= c_.head_dim / 2) return;
                      const std::int64_t h = first + v / 2;
                      weight_row(*t, h * c_.head_dim + head_dim_at(c_, static_cast<int>(v % 2), i), out);
                    });
}

// Natural rows [row_first, row_first + rows) of t (zeros past its last row), with input columns
// [col_first, col_first + cols) (zeros past its last column).
MxmWeights StepLowering::row_projection(const std::string& op, const std::string& name, const model::TensorView* t,
                                        std::int64_t row_first,
                                        std::int64_t rows, std::int64_t col_first, std::int64_t cols) {
  return projection(op, name, t, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(cols),
                    [&, t, row_first, rows, col_first, cols](std::uint32_t r, float* out, std::vector<float>& tmp) {
                      if (r >= rows) return;  // padding to whole vectors
                      const std::int64_t row = row_first + r;
                      const std::int64_t length = static_cast<std::int64_t>(t->row_length());
                      if (row >= static_cast<std::int64_t>(t->element_count()) / length) return;
                      if (col_first == 0 && cols >= length) return weight_row(*t, row, out);
                      weight_row(*t, row, tmp.data());
                      for (std::int64_t j = 0; j < cols && col_first + j < length; ++j) out[j] = tmp[col_first + j];
                    });
}

// All natural rows of t, whose input columns come in the head layout of heads
// [first, first + count) (attn_output).
MxmWeights StepLowering::head_input_projection(const std::string& op, const model::TensorView* t,
                                               std::int64_t rows, std::int64_t first, std::int64_t count) {
  return projection(op, op, t, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(count * 2 * lanes_),
                    [&, t, rows, first, count](std::uint32_t r, float* out, std::vector<float>& tmp) {
                      if (r >= rows) return;  // padding to whole vectors
                      weight_row(*t, r, tmp.data());
                      for (std::int64_t h = 0; h < count; ++h)
                        for (int half = 0; half < 2; ++half)
                          for (std::int64_t i = 0; i < c_.head_dim / 2; ++i)
                            out[(2 * h + half) * lanes_ + i] = tmp[(first + h) * c_.head_dim + head_dim_at(c_, half, i)];
                    });
}

// ---- The stage's input and output.

std::vector<std::pair<VecRef, std::uint32_t>> StepLowering::stripes(const Rows& r) const {
  std::vector<std::pair<VecRef, std::uint32_t>> out;
  for (int s = 0; s < r.all.place.stripes(); ++s)
    out.push_back({VecRef{r.all.place.slices[s], r.all.place.addr, 1}, r.all.place.stripe_vectors(s)});
  return out;
}

// What crosses a stage boundary: x, then the running sum when cut inside an FFN.
std::vector<std::pair<VecRef, std::uint32_t>> StepLowering::boundary(const Rows& x, const Rows* sum) const {
  auto out = stripes(x);
  if (sum)
    for (const auto& s : stripes(*sum)) out.push_back(s);
  return out;
}

bool StepLowering::receive_input() {
  x_ = alloc_rows(vb_, "x", T_, nv_);
  if (acc_in_) acc_received_ = alloc_rows(vb_, "ffn.sum.in", T_, nv_, {&x_.all});
  const bool receives = !st_.embedding || st_.embedding_adds;
  if (!receives) return true;
  const auto inbound = boundary(x_, acc_in_ ? &acc_received_ : nullptr);
  std::uint32_t stream_vectors = 0;
  for (const auto& part : inbound) stream_vectors += part.second;
  const LinkCycles link = st_.link;
  const int channel = st_.ingress ? kChannelInput : kChannelFromIngress;
  if (st_.input_arrivals.size() != stream_vectors)
    fail("internal compiler error: stage input has {} arrivals for {} vectors", st_.input_arrivals.size(), stream_vectors);
  std::size_t next = 0;
  for (const auto& [ref, n] : inbound) {
    const std::vector<std::uint64_t> arrivals(st_.input_arrivals.begin() + next, st_.input_arrivals.begin() + next + n);
    input_ready_ = std::max(input_ready_, emitter_.receive(channel, ref, arrivals, link.occupancy, "stage input") +
                                              std::uint64_t{n - 1} * link.occupancy + 8);
    next += n;
  }
  if (st_.ingress && P_ > 1) {
    std::vector<int> peers;
    for (int k = 0; k + 1 < P_; ++k) peers.push_back(kChannelForward + k);
    for (const auto& [ref, n] : inbound) {
      const std::vector<std::uint64_t> sent = emitter_.send(ref, peers, n, link.occupancy, "stage input forward");
      forward_sends_.insert(forward_sends_.end(), sent.begin(), sent.end());
    }
  }
  if (st_.input_only) return false;
  scheduler_.set_floor(st_.body_floor);
  return true;
}

void StepLowering::lower() {
  const graph::Graph& graph = *graph_;
  auto per_row = [](graph::OpKind k) {
    return k == OpKind::HeadNorm || k == OpKind::Rope || k == OpKind::KvAppend || k == OpKind::Attention;
  };
  for (std::size_t i = 0; i < graph.ops.size(); ++i) {
    const graph::Op& op = graph.ops[i];
    if (op.layer != layer_) {
      if (layer_ >= 0) end_layer();
      if (op.layer >= 0) begin_layer(op.layer);
      layer_ = op.layer;
    }
    if (!held(op)) continue;
    switch (op.kind) {
      case OpKind::Embedding: lower_embedding(op); break;
      case OpKind::RmsNorm: lower_rms_norm(op); break;
      case OpKind::MatMul: lower_matmul(op); break;
      case OpKind::BiasAdd: lower_bias_add(op); break;
      case OpKind::Add: lower_add(op); break;
      case OpKind::SwiGlu: lower_swiglu(op); break;
      case OpKind::Argmax: break;  // the host picks the token from the logits
      case OpKind::HeadNorm:
      case OpKind::Rope:
      case OpKind::KvAppend:
      case OpKind::Attention: {
        std::vector<const graph::Op*> run{&op};
        while (i + 1 < graph.ops.size() && per_row(graph.ops[i + 1].kind) && graph.ops[i + 1].layer == op.layer)
          run.push_back(&graph.ops[++i]);
        lower_rows(run);
        break;
      }
    }
  }
  if (layer_ >= 0) end_layer();
  record_probes();
  if (st_.egress)
    for (const auto& [ref, n] : boundary(x_, acc_out_ ? &acc_last_ : nullptr)) {
      const std::vector<std::uint64_t> sent = emitter_.send(ref, {kChannelOutput}, n, st_.link.occupancy, "stage output");
      output_sends_.insert(output_sends_.end(), sent.begin(), sent.end());
    }
}

std::uint64_t StepLowering::finish() {
  program_.predicted_cycles = scheduler_.finish();
  // The scheduling pass's verifier: the structural rules, and the run length it predicts.
  check_program(program_, chip_, fp_);
  if (program_end_cycle(program_, chip_) != program_.predicted_cycles)
    fail("internal compiler error: the schedule's length disagrees with its instructions");
  return program_.predicted_cycles;
}

// Ops outside the layers belong to the stage that embeds (the embedding) or that holds the
// head (the final norm and the LM head); a layer's attention ops to the stage holding its
// attention unit, its FFN ops to the stages holding its column groups. The residual adds run
// on every stage that holds any of the layer: without the block they pass x on.
bool StepLowering::held(const graph::Op& op) const {
  if (op.layer < 0) return op.kind == OpKind::Embedding ? st_.embedding : st_.head;
  if (skip_layer_) return false;
  if (op.kind == OpKind::Add) return true;
  const LayerPlacement& lp = layers_[static_cast<std::size_t>(op.layer)];
  return op.block == graph::LayerBlock::Ffn ? lp.ffn : lp.attention;
}

void StepLowering::begin_layer(std::int64_t l) {
  const LayerPlacement& lp = layers_[static_cast<std::size_t>(l)];
  skip_layer_ = !lp.attention && !lp.ffn;
  if (skip_layer_) return;
  const std::string b = fmt::format("blk.{}.", l);
  x_next_ = alloc_rows(vb_, b + "out", T_, nv_, {&x_.all});
  cut_after_ = lp.ffn && lp.end_part < K_;  // the stage ends inside this FFN
  if (cut_after_) acc_sent_ = alloc_rows(vb_, b + "ffn.sum.out", T_, nv_, {&x_.all, &x_next_.all});
  layer_mark_ = alloc_.mark();
}

void StepLowering::release(const MemAllocator::Mark& mark) {
  if (!probe_) alloc_.release(mark);
}

// Vectors per row of a value.
std::uint32_t StepLowering::n_vectors_of(const Value& v) const {
  return v.per_row.empty() ? v.rows().width : v.per_row.at(0).vectors();
}

// Where every value lowered so far lies, by graph tensor name (FFN values cut in column groups
// are left out: a probed chip holds whole layers).
void StepLowering::record_probes() {
  if (!probe_) return;
  for (const auto& [tensor, v] : values_) {
    if (v.parts.size() > 1) continue;
    TensorPlacement p;
    p.heads = v.heads;
    const std::int64_t width = graph_->tensors[static_cast<std::size_t>(tensor)].shape.back();
    // This rank's share: its heads, or its rows of the vocabulary.
    p.width = v.heads > 0 ? v.heads * c_.head_dim : std::min<std::int64_t>(width, std::int64_t{n_vectors_of(v)} * lanes_);
    const std::uint32_t n = n_vectors_of(v);
    for (std::uint32_t t = 0; t < T_; ++t) {
      std::vector<VecRef> row;
      const VTensor r = v.row(t);
      for (std::uint32_t i = 0; i < n && i < r.vectors(); ++i) row.push_back(r.at(i));
      p.rows.push_back(std::move(row));
    }
    probes_[graph_->tensors[static_cast<std::size_t>(tensor)].name] = std::move(p);
  }
}

void StepLowering::end_layer() {
  if (skip_layer_) return;
  record_probes();
  release(layer_mark_);
  x_ = x_next_;
  if (cut_after_) acc_last_ = acc_sent_;
  values_.clear();
  mxm_inputs_.clear();
}

// ---- Values.

const Value& StepLowering::value(int tensor) const {
  auto it = values_.find(tensor);
  if (it == values_.end()) fail("internal compiler error: graph tensor #{} was not lowered on this chip", tensor);
  return it->second;
}

// The input of the MXM for a matmul that reads `tensor` (int8 with its scale, or fp16), made
// once for all the matmuls that read it.
const MxmInput& StepLowering::mxm_input(int tensor, ElementType type, const std::string& name) {
  auto it = mxm_inputs_.find({tensor, type});
  if (it == mxm_inputs_.end())
    it = mxm_inputs_.emplace(std::pair{tensor, type}, prepare_mxm_input(vb_, value(tensor).rows(), type, name)).first;
  return it->second;
}

// ---- The ops outside attention.

void StepLowering::lower_embedding(const graph::Op& op) {
  // Per row, gather each part's row (zeros outside its range), widen, and add into one of
  // kEmbeddingChains running sums (part i into sum i mod chains; each sum in two alternating
  // buffers; each part's gather buffers are freed once added, so a large vocabulary's parts do
  // not pile up), then add the sums in a tree. The final sum lands in the row of x (or, with
  // P > 1, of this rank's partial embedding, which the all-reduce completes). Every part but one
  // gives zeros, so any order of the adds gives the same bits.
  constexpr std::size_t kEmbeddingChains = 8;
  Rows embedded;  // x plus this stage's part, when x arrived as a partial embedding
  if (st_.embedding_adds) embedded = alloc_rows(vb_, "embd.total", T_, nv_, {&x_.all});
  const MemAllocator::Mark embedding_mark = alloc_.mark();
  const VTensor embedding_table = as_tensor(embedding_);
  Rows rows = P_ == 1 && !st_.embedding_adds ? x_ : alloc_rows(vb_, "embd", T_, nv_, {&x_.all});
  const std::size_t chains = std::min(kEmbeddingChains, embedding_.size());
  for (std::uint32_t t = 0; t < T_; ++t) {
    const MemAllocator::Mark row_mark = alloc_.mark();
    std::vector<std::array<VTensor, 2>> sums;
    for (std::size_t c = 0; c < chains; ++c)
      sums.push_back({vb_.alloc(fmt::format("embd.sum.{}.{}.0", t, c), nv_, 4, {&token_, &embedding_table, &rows.all}),
                      vb_.alloc(fmt::format("embd.sum.{}.{}.1", t, c), nv_, 4, {&token_, &embedding_table, &rows.all})});
    std::vector<std::size_t> added(chains, 0);  // parts summed into chain c so far
    for (std::size_t pi = 0; pi < embedding_.size(); ++pi) {
      const MemAllocator::Mark part_mark = alloc_.mark();
      VTensor row16 = vb_.alloc(fmt::format("embd16.{}.{}", t, pi), row_vectors_, 1, {&token_, &embedding_table});
      vb_.gather(token_.at(t), embedding_[pi], row16.at(0), row_vectors_, "token embedding");
      const VTensor row32 = vb_.from_fp16(row16, nv_, fmt::format("embd32.{}.{}", t, pi));
      const std::size_t c = pi % chains, n = added[c]++;
      const bool only = embedding_.size() == 1;  // the one part goes straight to x
      std::vector<VectorStep> steps;
      for (std::uint32_t v = 0; v < nv_; ++v) {
        const VecRef out = only ? rows.at(t, v) : sums[c][n % 2].at(v);
        if (n == 0) steps.push_back({{row32.at(v)}, out});
        else steps.push_back({{sums[c][(n + 1) % 2].at(v), row32.at(v)}, out});
      }
      vb_.map(n == 0 ? Opcode::Move : Opcode::Add, steps, 0, 0.0f, "token embedding sum");
      if (embedding_.size() > 1) release(part_mark);
    }
    if (embedding_.size() > 1) {
      std::vector<VTensor> level;
      for (std::size_t c = 0; c < chains; ++c) level.push_back(sums[c][(added[c] - 1) % 2]);
      while (level.size() > 2) {  // pairwise, (s0 + s1) + (s2 + s3) ...
        std::vector<VTensor> next;
        for (std::size_t i = 0; i + 1 < level.size(); i += 2)
          next.push_back(vb_.binary(Opcode::Add, level[i], level[i + 1], fmt::format("embd.tree.{}", t)));
        if (level.size() % 2) next.push_back(level.back());
        level = std::move(next);
      }
      std::vector<VectorStep> steps;
      for (std::uint32_t v = 0; v < nv_; ++v)
        steps.push_back(level.size() == 2 ? VectorStep{{level[0].at(v), level[1].at(v)}, rows.at(t, v)}
                                          : VectorStep{{level[0].at(v)}, rows.at(t, v)});
      vb_.map(level.size() == 2 ? Opcode::Add : Opcode::Move, steps, 0, 0.0f, "token embedding sum");
    }
    if (T_ > 1 || tight_) release(row_mark);
  }
  // Each rank gathered its vocabulary rows (zeros for a token outside them).
  const Rows full = P_ > 1 ? all_reduce(rows, "embd") : rows;
  if (st_.embedding_adds) map_rows(vb_, Opcode::Add, {same(x_), same(full)}, embedded);
  else if (P_ > 1) map_rows(vb_, Opcode::Move, {same(full)}, x_);
  if (tight_) release(embedding_mark);
  if (st_.embedding_adds) x_ = embedded;
  values_[op.outputs[0]] = whole(x_);
}

// RMSNorm of every row: sum of squares per row, then one scale vector per row.
Rows StepLowering::rms_norm(const Rows& in, const VTensor& weight, const std::string& name) {
  Rows sq = alloc_rows(vb_, name + ".sq", T_, in.width, {&in.all});
  map_rows(vb_, Opcode::Mul, {same(in), same(in)}, sq);
  std::vector<VecRef> scales;
  for (std::uint32_t t = 0; t < T_; ++t) {
    const std::string rn = fmt::format("{}.{}", name, t);
    const VTensor sum = vb_.reduce_lanes(Opcode::Add, vb_.reduce_vectors(Opcode::Add, sq.row(t), rn + ".sumv"), rn + ".sum");
    const VTensor mean = vb_.unary(Opcode::MulImm, sum, static_cast<float>(1.0 / c_.n_embd), rn + ".mean");
    const VTensor shifted = vb_.unary(Opcode::AddImm, mean, static_cast<float>(c_.rms_eps), rn + ".eps");
    scales.push_back(vb_.unary(Opcode::Rsqrt, shifted, 0.0f, rn + ".rsqrt").at(0));
  }
  Rows scaled = alloc_rows(vb_, name + ".scaled", T_, in.width, {&in.all});
  map_rows(vb_, Opcode::Mul, {same(in), one_per_row(scales)}, scaled);
  Rows out = alloc_rows(vb_, name, T_, in.width, {&scaled.all});
  map_rows(vb_, Opcode::Mul, {same(scaled), for_every_row(weight)}, out);
  return out;
}

void StepLowering::lower_rms_norm(const graph::Op& op) {
  // The residual stream is x at the layer's start and at the head; inside a layer the FFN's
  // norm reads the stream after attention (x itself when this chip holds no attention).
  const Rows& in = values_.count(op.inputs[0]) ? value(op.inputs[0]).rows() : x_;
  values_[op.outputs[0]] = whole(rms_norm(in, vectors_.at(graph_->tensors[op.inputs[1]].name), op.name));
}

void StepLowering::lower_matmul(const graph::Op& op) {
  const std::vector<MxmWeights>& weights = matrices_.at(op.name);
  const Value& in = value(op.inputs[0]);
  Value out;
  const std::string& name = op.name;
  if (op.block == graph::LayerBlock::Ffn && in.sharded) {  // down: over the column groups
    // The FFN's down projection per column group, each a partial sum over this rank's
    // columns: summed here over the stage's groups first, then all-reduced across ranks once
    // (one all-reduce per FFN and stage, not one per group), then added to the FFN's running
    // sum when this stage begins inside the FFN.
    const LayerPlacement& lp = layers_[static_cast<std::size_t>(op.layer)];
    const std::string b = fmt::format("blk.{}.", op.layer);
    Rows local;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const int k = lp.first_part + static_cast<int>(i);
      const std::string bk = K_ == 1 ? b : fmt::format("{}{}.", b, k);
      const Rows& act = in.parts[i];
      const Rows down = project(vb_, weights[i], prepare_mxm_input(vb_, act, weights[i].type, bk + "act_mx"), bk + "down");
      local = i == 0 ? down : add_rows(local, down, bk + "ffn.local");
    }
    const Rows down = all_reduce(local, b + "ffn_down");
    out.parts = {lp.first_part > 0 ? add_rows(acc_received_, down, b + "ffn.sum") : down};
  } else {
    const MxmInput& x = mxm_input(op.inputs[0], weights[0].type, graph_->tensors[op.inputs[0]].name + ".mx");
    for (std::size_t i = 0; i < weights.size(); ++i)
      out.parts.push_back(project(vb_, weights[i], x, weights.size() == 1 ? name : fmt::format("{}.{}", name, i)));
    // A matmul over this rank's share of the columns (attention heads) is a partial sum; one
    // over all of them gives this rank's share of the rows (heads, FFN columns; vocabulary
    // rows for the head, which no later op reads).
    if (in.sharded) out.parts[0] = all_reduce(out.parts[0], name);
    out.sharded = op.layer >= 0 && !in.sharded;
    if (auto it = head_rows_.find(op.name); it != head_rows_.end()) out.heads = it->second;
  }
  values_[op.outputs[0]] = std::move(out);
  if (op.layer < 0) {  // the LM head: the logits are the program's output
    const Rows& logits = value(op.outputs[0]).rows();
    logits_stride_ = logits.stride;
    for (int s = 0; s < logits.all.place.stripes(); ++s)
      program_.buffers.push_back({fmt::format("logits.{}", s), false, logits.all.place.slices[s],
                                  logits.all.place.addr, logits.all.place.stripe_vectors(s), ElementType::F32,
                                  logits.all.place.stripe_vectors(s) * lanes_, HostRole::LogitsStripe,
                                  static_cast<std::uint32_t>(s)});
  }
}

Rows StepLowering::add_rows(const Rows& a, const Rows& b, const std::string& name) {
  Rows out = alloc_rows(vb_, name, T_, a.width, {&a.all, &b.all});
  map_rows(vb_, Opcode::Add, {same(a), same(b)}, out);
  return out;
}

void StepLowering::lower_bias_add(const graph::Op& op) {
  const Value& a = value(op.inputs[0]);
  const VTensor& bias = vectors_.at(graph_->tensors[op.inputs[1]].name);
  Rows out = alloc_rows(vb_, op.name, T_, a.rows().width, {&a.rows().all});
  map_rows(vb_, Opcode::Add, {same(a.rows()), for_every_row(bias)}, out);
  values_[op.outputs[0]] = {{out}, {}, a.sharded, a.heads};
}

void StepLowering::lower_add(const graph::Op& op) {
  const std::string b = fmt::format("blk.{}.", op.layer);
  if (op.block == graph::LayerBlock::Attention) {
    // x + attention; x itself when this chip holds no attention of the layer.
    const Rows x_mid = values_.count(op.inputs[1]) ? add_rows(x_, value(op.inputs[1]).rows(), b + "resid") : x_;
    values_[op.outputs[0]] = whole(x_mid);
    return;
  }
  // The layer's output. Without the FFN it is the stream after attention; cut after a column
  // group, x stays the FFN's input and the next stage finishes the sum.
  const Rows& x_mid = value(op.inputs[0]).rows();
  if (!values_.count(op.inputs[1])) {
    map_rows(vb_, Opcode::Move, {same(x_mid)}, x_next_);
  } else if (cut_after_) {
    map_rows(vb_, Opcode::Move, {same(x_mid)}, x_next_);
    map_rows(vb_, Opcode::Move, {same(value(op.inputs[1]).rows())}, acc_sent_);
  } else {
    map_rows(vb_, Opcode::Add, {same(x_mid), same(value(op.inputs[1]).rows())}, x_next_);
  }
  values_[op.outputs[0]] = whole(x_next_);
}

// silu(g) * u = g / (1 + exp(-g)) * u, in the reference's order, per FFN column group.
void StepLowering::lower_swiglu(const graph::Op& op) {
  const Value& gate = value(op.inputs[0]);
  const Value& up = value(op.inputs[1]);
  Value out{{}, {}, true};
  for (std::size_t i = 0; i < gate.parts.size(); ++i) {
    const std::string bk = fmt::format("{}.{}.", op.name, i);
    auto unary_rows = [&](Opcode o, const Rows& a, float fimm, const std::string& name) {
      Rows r = alloc_rows(vb_, name, T_, a.width, {&a.all});
      map_rows(vb_, o, {same(a)}, r, 0, fimm);
      return r;
    };
    const Rows& g = gate.parts[i];
    const Rows neg = unary_rows(Opcode::MulImm, g, -1.0f, bk + "neg");
    const Rows ex = unary_rows(Opcode::Exp, neg, 0.0f, bk + "expneg");
    const Rows den = unary_rows(Opcode::AddImm, ex, 1.0f, bk + "den");
    Rows silu = alloc_rows(vb_, bk + "silu", T_, g.width, {&g.all, &den.all});
    map_rows(vb_, Opcode::Div, {same(g), same(den)}, silu);
    Rows act = alloc_rows(vb_, bk + "act", T_, g.width, {&silu.all, &up.parts[i].all});
    map_rows(vb_, Opcode::Mul, {same(silu), same(up.parts[i])}, act);
    out.parts.push_back(act);
  }
  values_[op.outputs[0]] = std::move(out);
}

// The butterfly of all_reduce_lowering.h, over this stage's P ranks.
Rows StepLowering::all_reduce(const Rows& partial, const std::string& name) {
  if (P_ == 1) return partial;
  Rows result = alloc_rows(vb_, name + ".allreduce", T_, partial.width, {&partial.all});
  lower_butterfly_all_reduce(vb_, P_, st_.link, stripes(partial), stripes(result), {&result.all}, name);
  return result;
}

// Vector i (one vector, or per_row vectors from i) of a one-slice host buffer, as a tensor.
VTensor StepLowering::host_row(const VTensor& buffer, std::uint32_t t, std::uint32_t per_row) const {
  VTensor r = buffer;
  r.place.addr += t * per_row;
  r.place.vectors = per_row;
  return r;
}

// Vector i of row `row` of a table.
VecRef StepLowering::table_vector(const std::vector<TableRef>& parts, std::int64_t row, std::int64_t i) {
  for (const TableRef& t : parts)
    if (row >= t.row_lo && row < t.row_lo + t.rows)
      return {t.slice, static_cast<std::uint32_t>(t.addr + (row - t.row_lo) * t.row_vectors + i), 1};
  fail("internal compiler error: row {} is in no part of its table", row);
}

VTensor StepLowering::as_tensor(const KvTable& table) {
  Placed p;
  p.slices = table.slices();
  p.vectors = static_cast<std::uint32_t>(p.slices.size());
  return {"table", p};
}

// The slices of a table seen as a tensor, so that allocations can keep clear of them.
VTensor StepLowering::as_tensor(const std::vector<TableRef>& parts) {
  Placed p;
  for (const TableRef& t : parts) p.slices.push_back(t.slice);
  p.vectors = static_cast<std::uint32_t>(p.slices.size());
  return {"table", p};
}

}  // namespace lockstep::compiler
