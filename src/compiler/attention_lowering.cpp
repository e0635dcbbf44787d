// StepLowering's attention ops (step_lowering.h): the per-head RMSNorm of q and k (Qwen3),
// RoPE, the append of this step's keys and values to the KV cache, and causal attention over
// the compiled window. Every head sits in two vectors (the first and second of every RoPE pair
// in lanes 0 .. head_dim/2 - 1). Keys are cached position-major in fp16 and q . K runs on the
// MXM (KeyTable); values are cached dimension-major in fp32 (80 positions per vector of a block
// row) and p . V runs on the VXM (KvTable); docs/lpu.md.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "compiler/step_lowering.h"
#include "core/error.h"

namespace lockstep::compiler {
namespace {

// Whether an op works on q (this rank's query heads) or on k or v (the key/value heads they read).
bool is_query(const graph::Op& op) { return op.name.ends_with("_q") || op.name.ends_with("_q_norm"); }

}  // namespace

// RMSNorm of every head (two vectors each) of t, with per-dimension weights w (two vectors).
VTensor StepLowering::head_norm(const VTensor& t, std::int64_t heads, const VTensor& w, const std::string& name) {
  VTensor out = vb_.alloc(name, t.vectors(), 4, {&t});
  for (std::int64_t h = 0; h < heads; ++h) {
    const std::string hn = fmt::format("{}.{}", name, h);
    VTensor sq = vb_.alloc(hn + ".sq", 1, 1, {&t});
    vb_.map(Opcode::Mul, {{{t.at(2 * h), t.at(2 * h)}, sq.at(0)}}, 0, 0.0f, hn);
    VTensor sq2 = vb_.alloc(hn + ".sq2", 1, 1, {&t, &sq});
    vb_.map(Opcode::MulAdd, {{{t.at(2 * h + 1), t.at(2 * h + 1), sq.at(0)}, sq2.at(0)}}, 0, 0.0f, hn);
    const VTensor sum = vb_.reduce_lanes(Opcode::Add, sq2, hn + ".sum");
    const VTensor mean = vb_.unary(Opcode::MulImm, sum, static_cast<float>(1.0 / c_.head_dim), hn + ".mean");
    const VTensor eps = vb_.unary(Opcode::AddImm, mean, static_cast<float>(c_.rms_eps), hn + ".eps");
    const VTensor scale = vb_.unary(Opcode::Rsqrt, eps, 0.0f, hn + ".rsqrt");
    for (int half = 0; half < 2; ++half) {
      VTensor scaled = vb_.alloc(hn + ".scaled", 1, 1, {&t, &scale});
      vb_.map(Opcode::Mul, {{{t.at(2 * h + half), scale.at(0)}, scaled.at(0)}}, 0, 0.0f, hn);
      vb_.map(Opcode::Mul, {{{scaled.at(0), w.at(half)}, out.at(2 * h + half)}}, 0, 0.0f, hn);
    }
  }
  return out;
}

// RoPE on every head of t (two vectors each): a' = a cos - b sin, b' = a sin + b cos.
VTensor StepLowering::rope(const VTensor& t, std::int64_t heads, const VTensor& cos, const VTensor& sin,
                           const std::string& name) {
  VTensor out = vb_.alloc(name, t.vectors(), 4, {&t});
  std::vector<VectorStep> ac, bs, as, bc;
  VTensor t_ac = vb_.alloc(name + ".ac", heads, 4, {&t});
  VTensor t_bs = vb_.alloc(name + ".bs", heads, 4, {&t});
  VTensor t_as = vb_.alloc(name + ".as", heads, 4, {&t});
  VTensor t_bc = vb_.alloc(name + ".bc", heads, 4, {&t});
  for (std::int64_t h = 0; h < heads; ++h) {
    const std::uint32_t hv = static_cast<std::uint32_t>(h);
    ac.push_back({{t.at(2 * hv), cos.at(0)}, t_ac.at(hv)});
    bs.push_back({{t.at(2 * hv + 1), sin.at(0)}, t_bs.at(hv)});
    as.push_back({{t.at(2 * hv), sin.at(0)}, t_as.at(hv)});
    bc.push_back({{t.at(2 * hv + 1), cos.at(0)}, t_bc.at(hv)});
  }
  vb_.map(Opcode::Mul, ac, 0, 0.0f, name);
  vb_.map(Opcode::Mul, bs, 0, 0.0f, name);
  vb_.map(Opcode::Mul, as, 0, 0.0f, name);
  vb_.map(Opcode::Mul, bc, 0, 0.0f, name);
  std::vector<VectorStep> first, second;
  for (std::uint32_t h = 0; h < heads; ++h) {
    first.push_back({{t_ac.at(h), t_bs.at(h)}, out.at(2 * h)});
    second.push_back({{t_as.at(h), t_bc.at(h)}, out.at(2 * h + 1)});
  }
  vb_.map(Opcode::Sub, first, 0, 0.0f, name);
  vb_.map(Opcode::Add, second, 0, 0.0f, name);
  return out;
}


void StepLowering::lower_head_norm(const graph::Op& op, std::uint32_t t) {
  const VTensor& w = vectors_.at(graph_->tensors[op.inputs[1]].name);
  const std::int64_t heads = is_query(op) ? heads_ : kv_heads_;
  Value& out = values_[op.outputs[0]];
  out.sharded = true;
  out.heads = heads;
  out.per_row.push_back(head_norm(value(op.inputs[0]).row(t), heads, w, fmt::format("{}.{}", op.name, t)));
}

void StepLowering::lower_rope(const graph::Op& op, std::uint32_t t) {
  const std::int64_t heads = is_query(op) ? heads_ : kv_heads_;
  Value& out = values_[op.outputs[0]];
  out.sharded = true;
  out.heads = heads;
  out.per_row.push_back(rope(value(op.inputs[0]).row(t), heads, host_row(rope_cos_, t), host_row(rope_sin_, t),
                             fmt::format("{}.{}", op.name, t)));
}

// Appends one position's key or value of kv head g: per dimension, one lane of the block column
// that holds the position (distribute, gather the column, select, scatter back), each dimension
// part of the table on its own slice.
void StepLowering::append_kv(const VTensor& source, const KvTable& table, std::int64_t g,
                             const VTensor& onehot, const VTensor& pos_block, const std::string& name) {
  const std::uint32_t hd = static_cast<std::uint32_t>(c_.head_dim), half = hd / 2;
  const VTensor table_t = as_tensor(table);
  VTensor kd = vb_.alloc(name + ".d", hd, 1, {&source});
  for (std::uint32_t d = 0; d < hd; ++d)
    vb_.map(Opcode::Distribute, {{{source.at(static_cast<std::uint32_t>(2 * g) + d / half)}, kd.at(d)}},
            static_cast<std::int32_t>(d % half), 0.0f, name);
  for (std::uint32_t dp = 0; dp < table.part_count(); ++dp) {
    const std::vector<TableRef>& parts = table.parts[dp];
    const std::uint32_t dims = table.dims_in(dp, hd);
    const std::string pn = fmt::format("{}.d{}", name, dp);
    // The block column of every row part (zeros from parts that do not hold the block), summed.
    VTensor old;
    for (std::size_t part = 0; part < parts.size(); ++part) {
      VTensor got = vb_.alloc(pn + ".old", dims, 1, {&kd, &pos_block, &table_t, &old});
      vb_.gather(pos_block.at(0), parts[part], got.at(0), dims, pn + " column");
      old = part == 0 ? got : vb_.binary(Opcode::Add, old, got, pn + ".old.sum");
    }
    VTensor fresh = vb_.alloc(pn + ".new", dims, 1, {&kd, &old, &onehot, &pos_block, &table_t});
    std::vector<VectorStep> select;
    for (std::uint32_t d = 0; d < dims; ++d)
      select.push_back({{onehot.at(0), kd.at(table.dim_at(dp, d)), old.at(d)}, fresh.at(d)});
    vb_.map(Opcode::Select, select, 0, 0.0f, pn);
    for (const TableRef& part : parts) vb_.scatter(pos_block.at(0), fresh.at(0), part, dims, pn + " store");
  }
}

// Appends one position's key of kv head g: its two fp32 vectors packed into one fp16 vector and
// stored in row `position` of the key table (every part is given it; the one holding the row
// keeps it).
void StepLowering::append_key(const VTensor& source, const KeyTable& table, std::int64_t g,
                              const VTensor& position, const std::string& name) {
  VTensor key = vb_.alloc(name + ".f16", 1, 1, {&source, &position});
  const std::uint32_t first = static_cast<std::uint32_t>(2 * g);
  vb_.map(Opcode::ConvertF32ToF16, {{{source.at(first), source.at(first + 1)}, key.at(0)}}, 0, 0.0f, name);
  for (const TableRef& part : table.parts) vb_.scatter(position.at(0), key.at(0), part, 1, name + " store");
}

// The appends of row t (keys, values), kv head by kv head: head g's key and value are stored
// before head g + 1's are distributed, so the first query heads' attention need not wait for
// every head's store.
void StepLowering::lower_kv_append(std::span<const graph::Op* const> ops, std::uint32_t t) {
  const LayerPlacement& lp = layers_[static_cast<std::size_t>(ops.front()->layer)];
  for (std::int64_t g = 0; g < kv_heads_; ++g)
    for (const graph::Op* op : ops) {
      const std::string name = fmt::format("{}.{}.{}", op->name, t, g);
      const VTensor source = value(op->inputs[0]).row(t);
      if (op->name.ends_with("_k"))
        append_key(source, lp.keys[static_cast<std::size_t>(g)], g, host_row(pos_row_, t), name);
      else
        append_kv(source, lp.values[static_cast<std::size_t>(g)], g, host_row(onehot_, t), host_row(pos_block_, t), name);
    }
}

// One query head of row t on its way through attention's phases.
struct StepLowering::HeadWork {
  std::int64_t hq = 0;             // this rank's query head
  std::int64_t g = 0;              // the local kv head it reads
  std::string name;
  VTensor value_table;             // the kv head's values, as a tensor (for placement only)
  VTensor scores;                  // [blocks] q . k, 80 positions per vector
  VTensor p;                       // [blocks] softmax probabilities, 80 positions per vector
  std::vector<VTensor> weighted;   // [dimension part of the value table] sum over the window of p * v
};

// q . K of every query head on the MXM, kv head by kv head: each query head's two fp32 vectors
// packed into one fp16 row, and the key table's blocks installed once for all of the rows.
void StepLowering::score(std::vector<HeadWork>& heads, const VTensor& qr, const LayerPlacement& lp,
                         const std::string& name) {
  for (std::size_t first = 0; first < heads.size();) {
    const std::int64_t g = heads[first].g;
    std::size_t end = first;
    while (end < heads.size() && heads[end].g == g) ++end;
    const std::uint32_t n = static_cast<std::uint32_t>(end - first);
    const Rows q16 = alloc_rows(vb_, fmt::format("{}.q16.{}", name, g), n, 1, {&qr});
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t hq = static_cast<std::uint32_t>(heads[first + i].hq);
      vb_.map(Opcode::ConvertF32ToF16, {{{qr.at(2 * hq), qr.at(2 * hq + 1)}, q16.at(i, 0)}}, 0, 0.0f, name + ".q16");
    }
    const Rows s = matvec(vb_, lp.keys[static_cast<std::size_t>(g)].weights, q16, fmt::format("{}.scores.{}", name, g));
    for (std::uint32_t i = 0; i < n; ++i) heads[first + i].scores = s.row(i);
    first = end;
  }
}

// The head's scores scaled, masked (row t's causal window) and softmaxed into h.p.
void StepLowering::softmax(HeadWork& h, std::uint32_t t) {
  const float score_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c_.head_dim)));
  const std::string& hn = h.name;
  const VTensor scaled = vb_.unary(Opcode::MulImm, h.scores, score_scale, hn + ".scaled");
  const VTensor masked = vb_.binary(Opcode::Add, scaled, host_row(mask_, t, blocks_), hn + ".masked");
  const VTensor mx = vb_.reduce_lanes(Opcode::Max, vb_.reduce_vectors(Opcode::Max, masked, hn + ".maxv"), hn + ".max");
  const VTensor shifted = vb_.binary(Opcode::Sub, masked, mx, hn + ".shifted");
  const VTensor e = vb_.unary(Opcode::Exp, shifted, 0.0f, hn + ".exp");
  const VTensor sum = vb_.reduce_lanes(Opcode::Add, vb_.reduce_vectors(Opcode::Add, e, hn + ".sumv"), hn + ".sum");
  const VTensor inv = vb_.binary(Opcode::Div, vb_.ones(), sum, hn + ".inv");
  // Off the value table's slices, which the weighted sum reads beside p.
  h.p = vb_.alloc(hn + ".p", blocks_, 4, {&e, &inv, &h.value_table});
  std::vector<VectorStep> steps;
  for (std::uint32_t blk = 0; blk < blocks_; ++blk) steps.push_back({{e.at(blk), inv.at(0)}, h.p.at(blk)});
  vb_.map(Opcode::Mul, steps, 0, 0.0f, hn + ".p");
}

// out[d] = sum over the window of p * v[d], before its lane sum: per head and dimension part of
// the value table, a multiply-add chain over the blocks, each step one Repeat over the part's
// dimensions (a block's row of the table); heads and parts interleaved block by block.
void StepLowering::weigh_values(std::vector<HeadWork>& heads, const LayerPlacement& lp) {
  const std::uint32_t hd = static_cast<std::uint32_t>(c_.head_dim);
  for (HeadWork& h : heads) h.weighted.assign(lp.values[static_cast<std::size_t>(h.g)].parts.size(), VTensor{});
  for (std::uint32_t blk = 0; blk < blocks_; ++blk)
    for (HeadWork& h : heads) {
      const KvTable& vt = lp.values[static_cast<std::size_t>(h.g)];
      for (std::size_t part = 0; part < vt.parts.size(); ++part) {
        const std::uint32_t p = static_cast<std::uint32_t>(part), dims = vt.dims_in(p, hd);
        VTensor& acc = h.weighted[part];
        VTensor next = vb_.alloc(h.name + ".pv", dims, 1, {&h.p, &acc, &h.value_table});
        std::vector<VectorStep> steps;
        for (std::uint32_t i = 0; i < dims; ++i) {
          const VecRef value = vt.at(blk, vt.dim_at(p, i));
          if (blk == 0) steps.push_back({{h.p.at(blk), value}, next.at(i)});
          else steps.push_back({{h.p.at(blk), value, acc.at(i)}, next.at(i)});
        }
        vb_.map(blk == 0 ? Opcode::Mul : Opcode::MulAdd, steps, 0, 0.0f, h.name + " pv");
        acc = next;
      }
    }
}

// The head's output in its two vectors of out's row t: every dimension's lane sum (one Repeat
// per dimension part and level), masked to its lane and summed in a tree (a lane meets only
// exact zeros, so the value is the lane sum's, bit for bit).
void StepLowering::place_head_output(HeadWork& h, const KvTable& values, const Rows& out, std::uint32_t t) {
  const std::uint32_t hd = static_cast<std::uint32_t>(c_.head_dim), half = hd / 2;
  std::vector<VTensor> totals;
  {
    // Every head's and part's lane sums are independent: their rotate trees are spread over
    // every slice, not crowded into the near ones (each tree waits a little longer per step).
    const VectorBuilder::PoolScope anywhere(vb_, Pool::Anywhere);
    for (const VTensor& w : h.weighted) totals.push_back(vb_.reduce_lanes(Opcode::Add, w, h.name + ".pvsum", 1));
  }
  for (std::uint32_t hf = 0; hf < 2; ++hf) {
    VTensor lanes = vb_.alloc(h.name + ".o", half, 4, {&lane_masks_});
    std::vector<VectorStep> steps;
    for (std::uint32_t lane = 0; lane < half; ++lane) {
      const std::uint32_t d = hf * half + lane;
      steps.push_back({{lane_masks_.at(lane), totals[values.part_of(d)].at(values.index_of(d))}, lanes.at(lane)});
    }
    vb_.map(Opcode::Mul, steps, 0, 0.0f, h.name + ".o");
    const VTensor sum = vb_.reduce_vectors(Opcode::Add, lanes, h.name + ".o.sum");
    vb_.map(Opcode::Move, {{{sum.at(0)}, out.at(t, static_cast<std::uint32_t>(2 * h.hq + hf))}}, 0, 0.0f, h.name);
  }
}

// After the scores: the heads' softmaxes, then p.V for all of them, then their outputs in out's
// row t, phase by phase across the heads.
void StepLowering::finish_heads(std::vector<HeadWork>& heads, const LayerPlacement& lp, const Rows& out,
                                std::uint32_t t) {
  for (HeadWork& h : heads) softmax(h, t);
  weigh_values(heads, lp);
  for (HeadWork& h : heads) place_head_output(h, lp.values[static_cast<std::size_t>(h.g)], out, t);
}

void StepLowering::lower_attention(const graph::Op& op, std::uint32_t t) {
  const LayerPlacement& lp = layers_[static_cast<std::size_t>(op.layer)];
  Value& out = values_[op.outputs[0]];
  const VTensor q = value(op.inputs[0]).row(t);
  const std::string name = fmt::format("{}.{}", op.name, t);
  std::vector<HeadWork> heads;
  for (std::int64_t hq = 0; hq < heads_; ++hq) {
    HeadWork h;
    h.hq = hq;
    h.g = (q_first_ + hq) / group_ - kv_first_;
    h.name = fmt::format("{}.head.{}", name, hq);
    h.value_table = as_tensor(lp.values[static_cast<std::size_t>(h.g)]);
    heads.push_back(std::move(h));
  }
  score(heads, q, lp, name);  // the key blocks installed once for every head of a group
  if (!tight_) {
    finish_heads(heads, lp, out.rows(), t);
    return;
  }
  // Short of SRAM: the rest one head at a time, its temporaries freed before the next head's
  // (which then waits for their last reads).
  for (HeadWork& h : heads) {
    const MemAllocator::Mark head_mark = alloc_.mark();
    std::vector<HeadWork> one{std::move(h)};
    finish_heads(one, lp, out.rows(), t);
    release(head_mark);
  }
}

// The attention block's per-row ops (q/k norms, RoPE, the KV append, attention) row by row:
// row t's are all lowered before row t + 1's, so that a row's attention starts while the next
// row's projections still stream, and its temporaries are freed for the next row once its
// output is in place. Each op's function lowers one row.
void StepLowering::lower_rows(const std::vector<const graph::Op*>& ops) {
  // The attention's output rows before any row's temporaries, so that no release frees them.
  for (const graph::Op* op : ops)
    if (op->kind == graph::OpKind::Attention)
      values_[op->outputs[0]] = {{alloc_rows(vb_, op->name, T_, static_cast<std::uint32_t>(2 * heads_))}, {}, true, heads_};
  for (std::uint32_t t = 0; t < T_; ++t) {
    const MemAllocator::Mark row_mark = alloc_.mark();
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const graph::Op& op = *ops[i];
      switch (op.kind) {
        case graph::OpKind::HeadNorm: lower_head_norm(op, t); break;
        case graph::OpKind::Rope: lower_rope(op, t); break;
        case graph::OpKind::KvAppend: {  // consecutive appends together
          std::size_t end = i + 1;
          while (end < ops.size() && ops[end]->kind == graph::OpKind::KvAppend) ++end;
          lower_kv_append(std::span<const graph::Op* const>(ops.data() + i, end - i), t);
          i = end - 1;
          break;
        }
        case graph::OpKind::Attention: lower_attention(op, t); break;
        default: fail("internal compiler error: {} is not a per-row op", op.name);
      }
    }
    release(row_mark);
  }
}

}  // namespace lockstep::compiler
