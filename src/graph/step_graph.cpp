#include "graph/step_graph.h"

#include <fmt/format.h>

#include "core/error.h"

namespace lockstep::graph {
namespace {

using numerics::TensorType;

// Appends tensors and ops to a graph, naming them consistently.
class Builder {
 public:
  Builder(Graph& g, const WeightTypes& types) : g_(g), types_(types) {}

  int tensor(const std::string& name, TensorRole role, TensorType type,
             std::vector<std::int64_t> shape) {
    std::uint64_t elements = 1;
    for (auto d : shape) elements *= static_cast<std::uint64_t>(d);
    const auto& info = numerics::tensor_type_info(type);
    // Rows that are not whole blocks (never the case in real models) are costed as f32.
    const std::uint64_t bytes = elements % info.block_values == 0
                                    ? numerics::tensor_bytes(type, elements)
                                    : elements * 4;
    g_.tensors.push_back({name, role, type, std::move(shape), bytes, Precision::Fp32});
    return static_cast<int>(g_.tensors.size() - 1);
  }
  int activation(const std::string& name, std::vector<std::int64_t> shape) {
    return tensor(name, TensorRole::Activation, TensorType::F32, std::move(shape));
  }
  // A weight matrix {out rows, in columns} of its configured type.
  int matrix(const std::string& name, std::int64_t out, std::int64_t in) {
    auto it = types_.by_name.find(name);
    return tensor(name, TensorRole::Weight, it != types_.by_name.end() ? it->second : types_.default_type,
                  {out, in});
  }
  int vector(const std::string& name, std::int64_t n) {
    auto it = types_.by_name.find(name);
    return tensor(name, TensorRole::Weight, it != types_.by_name.end() ? it->second : TensorType::F32,
                  {n});
  }
  void op(OpKind kind, const std::string& name, std::int64_t layer, std::vector<int> in,
          std::vector<int> out, std::uint64_t flops) {
    g_.ops.push_back({kind, name, layer, block_, std::move(in), std::move(out), flops});
  }
  // The layer block the next ops belong to.
  void block(LayerBlock b) { block_ = b; }

 private:
  Graph& g_;
  const WeightTypes& types_;
  LayerBlock block_ = LayerBlock::None;
};

}  // namespace

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::Embedding: return "embedding";
    case OpKind::RmsNorm: return "rms_norm";
    case OpKind::HeadNorm: return "head_norm";
    case OpKind::MatMul: return "matmul";
    case OpKind::BiasAdd: return "bias_add";
    case OpKind::Rope: return "rope";
    case OpKind::KvAppend: return "kv_append";
    case OpKind::Attention: return "attention";
    case OpKind::Add: return "add";
    case OpKind::SwiGlu: return "swiglu";
    case OpKind::Argmax: return "argmax";
  }
  return "?";
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return "fp32";
    case Precision::Fp16: return "fp16";
    case Precision::Int8: return "int8";
  }
  return "?";
}

Graph build_step_graph(const model::ModelConfig& c, const StepShape& step, const WeightTypes& types) {
  const std::int64_t T = step.n_tokens, p = step.position;
  if (T < 1) fail("a step needs at least one token, got {}", T);
  if (p < 0 || p + T > c.n_ctx_train)
    fail("{} tokens at position {} exceed the model's context of {} tokens", T, p, c.n_ctx_train);
  Graph g;
  g.config = c;
  g.step = step;
  Builder b(g, types);
  const std::int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff, d = c.head_dim;
  const std::uint64_t uT = static_cast<std::uint64_t>(T);
  auto matmul_flops = [&](std::int64_t out, std::int64_t in) { return 2 * uT * out * in; };

  const int ids = b.tensor("tokens", TensorRole::Input, TensorType::F32, {T});
  const int embd = b.matrix("token_embd.weight", c.n_vocab, E);
  int x = b.activation("x.embedded", {T, E});
  b.op(OpKind::Embedding, "embedding", -1, {ids, embd}, {x}, 0);

  // Positions seen by attention, summed over the T query tokens: token t sees p + t + 1.
  const std::uint64_t attended = uT * p + uT * (uT + 1) / 2;
  for (std::int64_t l = 0; l < c.n_layer; ++l) {
    const std::string w = fmt::format("blk.{}.", l), a = fmt::format("x.{}.", l);
    b.block(LayerBlock::Attention);
    const int xn = b.activation(a + "attn_in", {T, E});
    b.op(OpKind::RmsNorm, w + "attn_norm", l, {x, b.vector(w + "attn_norm.weight", E)}, {xn}, 4 * uT * E);
    int q = b.activation(a + "q", {T, Q}), k = b.activation(a + "k", {T, KV}),
        v = b.activation(a + "v", {T, KV});
    b.op(OpKind::MatMul, w + "attn_q", l, {xn, b.matrix(w + "attn_q.weight", Q, E)}, {q}, matmul_flops(Q, E));
    b.op(OpKind::MatMul, w + "attn_k", l, {xn, b.matrix(w + "attn_k.weight", KV, E)}, {k}, matmul_flops(KV, E));
    b.op(OpKind::MatMul, w + "attn_v", l, {xn, b.matrix(w + "attn_v.weight", KV, E)}, {v}, matmul_flops(KV, E));
    if (c.qkv_bias) {
      for (auto [name, t, n] : {std::tuple{"q", &q, Q}, {"k", &k, KV}, {"v", &v, KV}}) {
        const int out = b.activation(a + name + "_biased", {T, n});
        b.op(OpKind::BiasAdd, w + "attn_" + name + "_bias", l,
             {*t, b.vector(w + "attn_" + name + ".bias", n)}, {out}, uT * n);
        *t = out;
      }
    }
    if (c.qk_norm) {
      for (auto [name, t, n] : {std::tuple{"q", &q, Q}, {"k", &k, KV}}) {
        const int out = b.activation(a + name + "_normed", {T, n});
        b.op(OpKind::HeadNorm, w + "attn_" + name + "_norm", l,
             {*t, b.vector(w + "attn_" + name + "_norm.weight", d)}, {out}, 4 * uT * n);
        *t = out;
      }
    }
    const int q_rot = b.activation(a + "q_rope", {T, Q}), k_rot = b.activation(a + "k_rope", {T, KV});
    b.op(OpKind::Rope, w + "rope_q", l, {q}, {q_rot}, 3 * uT * Q);
    b.op(OpKind::Rope, w + "rope_k", l, {k}, {k_rot}, 3 * uT * KV);
    const int k_cache = b.tensor(fmt::format("cache.{}.k", l), TensorRole::KvCache, types.kv_type, {p + T, KV});
    const int v_cache = b.tensor(fmt::format("cache.{}.v", l), TensorRole::KvCache, types.kv_type, {p + T, KV});
    b.op(OpKind::KvAppend, w + "kv_append_k", l, {k_rot}, {k_cache}, 0);
    b.op(OpKind::KvAppend, w + "kv_append_v", l, {v}, {v_cache}, 0);
    const int att = b.activation(a + "attended", {T, Q});
    // q.k and p.v: 2 flops per multiply-add, head_dim each, for every (head, attended position);
    // softmax about 5 flops per score.
    b.op(OpKind::Attention, w + "attention", l, {q_rot, k_cache, v_cache}, {att},
         attended * c.n_head * (4 * d + 5));
    const int o = b.activation(a + "attn_out", {T, E});
    b.op(OpKind::MatMul, w + "attn_output", l, {att, b.matrix(w + "attn_output.weight", E, Q)}, {o}, matmul_flops(E, Q));
    const int x_mid = b.activation(a + "resid_attn", {T, E});
    b.op(OpKind::Add, w + "residual_attn", l, {x, o}, {x_mid}, uT * E);

    b.block(LayerBlock::Ffn);
    const int fn = b.activation(a + "ffn_in", {T, E});
    b.op(OpKind::RmsNorm, w + "ffn_norm", l, {x_mid, b.vector(w + "ffn_norm.weight", E)}, {fn}, 4 * uT * E);
    const int gate = b.activation(a + "gate", {T, F}), up = b.activation(a + "up", {T, F});
    b.op(OpKind::MatMul, w + "ffn_gate", l, {fn, b.matrix(w + "ffn_gate.weight", F, E)}, {gate}, matmul_flops(F, E));
    b.op(OpKind::MatMul, w + "ffn_up", l, {fn, b.matrix(w + "ffn_up.weight", F, E)}, {up}, matmul_flops(F, E));
    const int h = b.activation(a + "swiglu", {T, F});
    b.op(OpKind::SwiGlu, w + "swiglu", l, {gate, up}, {h}, 6 * uT * F);
    const int down = b.activation(a + "ffn_out", {T, E});
    b.op(OpKind::MatMul, w + "ffn_down", l, {h, b.matrix(w + "ffn_down.weight", E, F)}, {down}, matmul_flops(E, F));
    const int x_out = b.activation(a + "resid_ffn", {T, E});
    b.op(OpKind::Add, w + "residual_ffn", l, {x_mid, down}, {x_out}, uT * E);
    x = x_out;
  }

  // Serving needs the next token only: the final norm and LM head run on the last row.
  b.block(LayerBlock::None);
  const std::int64_t head_rows = step.logits_every_row ? T : 1;
  const int last = b.activation("x.final", {head_rows, E});
  b.op(OpKind::RmsNorm, "output_norm", -1, {x, b.vector("output_norm.weight", E)}, {last},
       4 * static_cast<std::uint64_t>(head_rows) * E);
  const int head = c.tied_embeddings ? embd : b.matrix("output.weight", c.n_vocab, E);
  const int logits = b.tensor("logits", TensorRole::Output, TensorType::F32, {head_rows, c.n_vocab});
  b.op(OpKind::MatMul, "output", -1, {last, head}, {logits}, 2ull * head_rows * c.n_vocab * E);
  const int token = b.tensor("next_token", TensorRole::Output, TensorType::F32, {1});
  b.op(OpKind::Argmax, "argmax", -1, {logits}, {token}, static_cast<std::uint64_t>(c.n_vocab));
  verify_graph(g);
  return g;
}

void verify_graph(const Graph& g) {
  std::vector<bool> ready(g.tensors.size(), false);
  for (std::size_t i = 0; i < g.tensors.size(); ++i)
    ready[i] = g.tensors[i].role == TensorRole::Input || g.tensors[i].role == TensorRole::Weight ||
               g.tensors[i].role == TensorRole::KvCache;
  auto shape_of = [&](int t) { return g.tensors[t].shape; };
  for (const auto& op : g.ops) {
    for (int in : op.inputs) {
      if (in < 0 || in >= static_cast<int>(g.tensors.size()))
        fail("graph: op '{}' reads tensor #{} which does not exist", op.name, in);
      if (!ready[in])
        fail("graph: op '{}' reads '{}' before any op produces it", op.name, g.tensors[in].name);
    }
    for (int out : op.outputs) {
      if (out < 0 || out >= static_cast<int>(g.tensors.size()))
        fail("graph: op '{}' writes tensor #{} which does not exist", op.name, out);
      ready[out] = true;
    }
    if (op.kind == OpKind::MatMul) {
      const auto x = shape_of(op.inputs[0]), w = shape_of(op.inputs[1]), y = shape_of(op.outputs[0]);
      if (w.size() != 2 || x.size() != 2 || y.size() != 2 || x[1] != w[1] || y[1] != w[0] ||
          y[0] != x[0])
        fail("graph: matmul '{}' has mismatched shapes ([{}x{}] by weight [{}x{}])", op.name,
             x.size() > 0 ? x[0] : 0, x.size() > 1 ? x[1] : 0, w.size() > 0 ? w[0] : 0,
             w.size() > 1 ? w[1] : 0);
    }
    if (op.kind == OpKind::Add || op.kind == OpKind::SwiGlu) {
      if (shape_of(op.inputs[0]) != shape_of(op.inputs[1]) ||
          shape_of(op.inputs[0]) != shape_of(op.outputs[0]))
        fail("graph: element-wise op '{}' has operands of different shapes", op.name);
    }
  }
}

std::uint64_t Graph::total_flops() const {
  std::uint64_t total = 0;
  for (const auto& op : ops) total += op.flops;
  return total;
}

std::uint64_t Graph::weight_bytes() const {
  // A weight read only by the embedding lookup costs its T rows; any other read costs it whole.
  std::vector<bool> whole(tensors.size(), false), rows(tensors.size(), false);
  for (const auto& op : ops)
    for (int in : op.inputs) (op.kind == OpKind::Embedding ? rows : whole)[in] = true;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    if (t.role != TensorRole::Weight) continue;
    if (whole[i]) total += t.bytes;
    else if (rows[i]) total += t.bytes / static_cast<std::uint64_t>(t.shape[0]) * step.n_tokens;
  }
  return total;
}

std::uint64_t Graph::kv_bytes_read() const {
  std::uint64_t total = 0;
  for (const auto& t : tensors)
    if (t.role == TensorRole::KvCache) total += t.bytes;
  return total;
}

std::uint64_t Graph::kv_bytes_written() const {
  std::uint64_t total = 0;
  for (const auto& t : tensors)
    if (t.role == TensorRole::KvCache)
      total += t.bytes / static_cast<std::uint64_t>(t.shape[0]) * static_cast<std::uint64_t>(step.n_tokens);
  return total;
}

}  // namespace lockstep::graph
