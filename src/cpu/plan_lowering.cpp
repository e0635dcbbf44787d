// Lowering a step graph to a CPU plan: buffers from a pool by liveness (element-wise ops run in
// place when their input dies there), a Prepare step before each matmul input per activation
// format, barriers only where a step touches what its phase has already written or read.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "cpu/plan.h"
#include "graph/step_graph.h"
#include "format/tensor_view.h"
#include "numerics/half.h"

namespace lockstep::cpu {
namespace {

using graph::OpKind;
using graph::TensorRole;

constexpr std::int64_t kSplitRows = 16;  // matmul rows are split over threads in these units

std::size_t round_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }

// Buffers of [max_batch] rows, reused once their last reader has run.
class BufferPool {
 public:
  BufferPool(ArenaLayout& layout, std::int64_t max_batch) : layout_(layout), rows_(max_batch) {}
  RowBuffer take(std::size_t row_bytes) {
    row_bytes = round_up(row_bytes, 64);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->row_bytes == row_bytes) {
        const RowBuffer b = *it;
        free_.erase(it);
        return b;
      }
    }
    return {layout_.place(row_bytes * static_cast<std::size_t>(rows_)), row_bytes};
  }
  void give_back(const RowBuffer& b) { free_.push_back(b); }

 private:
  ArenaLayout& layout_;
  std::int64_t rows_;
  std::vector<RowBuffer> free_;
};

// Inserts barriers: a step waits for its phase when it reads something the phase wrote or
// writes something the phase read or wrote (resources are arena offsets).
class PhaseTracker {
 public:
  bool needs_barrier(const std::vector<std::size_t>& reads,
                     const std::vector<std::size_t>& writes) const {
    for (auto r : reads)
      if (written_.count(r)) return true;
    for (auto w : writes)
      if (written_.count(w) || read_.count(w)) return true;
    return false;
  }
  void start_phase() {
    written_.clear();
    read_.clear();
  }
  void record(const std::vector<std::size_t>& reads, const std::vector<std::size_t>& writes) {
    read_.insert(reads.begin(), reads.end());
    written_.insert(writes.begin(), writes.end());
  }

 private:
  std::set<std::size_t> written_, read_;
};

std::vector<std::int64_t> split_rows(std::int64_t rows, int threads) {
  const std::int64_t units = (rows + kSplitRows - 1) / kSplitRows;
  std::vector<std::int64_t> bounds(static_cast<std::size_t>(threads) + 1);
  for (int i = 0; i <= threads; ++i)
    bounds[static_cast<std::size_t>(i)] = std::min(rows, units * i / threads * kSplitRows);
  return bounds;
}

const model::TensorView& model_tensor(const model::Model& m, const std::string& name) {
  const auto it = m.tensors.find(name);
  if (it == m.tensors.end()) fail("the CPU plan needs tensor '{}', which the model lacks", name);
  return it->second;
}

struct VectorFill {
  std::size_t offset;
  const model::TensorView* tensor;
};

}  // namespace

Plan lower_to_plan(const model::Model& m, const PlanOptions& options, ThreadTeam& team,
                   const std::function<void(const std::string&)>& log) {
  const auto& c = m.config;
  if (options.threads != team.size()) fail("the plan's thread count differs from its team's");
  if (options.max_batch < 1 || options.n_ctx < 1 || options.n_slots < 1)
    fail("a CPU plan needs max_batch, n_ctx and n_slots >= 1");
  Plan plan;
  plan.config = c;
  plan.options = options;
  plan.vectors = &vector_kernels(options.isa);

  graph::WeightTypes types;
  types.kv_type = numerics::TensorType::F16;
  const graph::Graph g = graph::build_step_graph(c, {1, 0}, types);

  ArenaLayout layout;
  const std::size_t d = static_cast<std::size_t>(c.head_dim);
  plan.slot_cache_bytes = static_cast<std::size_t>(c.n_layer * c.n_head_kv) *
                         static_cast<std::size_t>(options.n_ctx) * d * 2;
  const std::size_t cache_bytes = plan.slot_cache_bytes * static_cast<std::size_t>(options.n_slots);
  plan.key_cache = layout.place(cache_bytes, 4096);
  plan.value_cache = layout.place(cache_bytes, 4096);
  plan.rope_table = layout.place(static_cast<std::size_t>(options.n_ctx) * d * sizeof(float));
  plan.scores = layout.place(static_cast<std::size_t>(options.threads) *
                             round_up(static_cast<std::size_t>(options.n_ctx) * 4, 64));
  const std::size_t logits_resource = layout.place(64);  // stands for the caller's logits
  const std::size_t embedding = layout.place(m.token_embd->data.size(), 4096);

  // Matrices: packed once each (a tied head is the embedding table packed for its kernel).
  std::map<std::string, int> matrix_index;
  std::vector<const model::TensorView*> matrix_sources;
  std::vector<std::size_t> matrix_offsets;
  for (const auto& op : g.ops) {
    if (op.kind != OpKind::MatMul) continue;
    const std::string& name = g.tensors[static_cast<std::size_t>(op.inputs[1])].name;
    if (matrix_index.count(name)) continue;
    const auto& t = model_tensor(m, name);
    const WeightFormat& format = weight_format(t.type);
    PlannedMatrix pm;
    pm.name = name;
    pm.packed.type = t.type;
    pm.packed.rows = static_cast<std::int64_t>(t.row_count());
    pm.packed.cols = static_cast<std::int64_t>(t.row_length());
    pm.kernel = &matmul_kernel(t.type, options.isa);
    const std::size_t bytes = format.packed_bytes(pm.packed.rows, pm.packed.cols);
    matrix_offsets.push_back(layout.place(bytes, 4096));
    plan.weight_bytes += bytes;
    matrix_sources.push_back(&t);
    matrix_index[name] = static_cast<int>(plan.matrices.size());
    plan.matrices.push_back(pm);
  }

  // Last reader of every tensor, and of every (tensor, activation format) a matmul reads.
  std::vector<std::size_t> last_use(g.tensors.size(), 0);
  using PreparedKey = std::pair<int, const void*>;
  std::map<PreparedKey, std::size_t> prepared_last_use;
  for (std::size_t i = 0; i < g.ops.size(); ++i) {
    for (int in : g.ops[i].inputs) last_use[static_cast<std::size_t>(in)] = i;
    if (g.ops[i].kind == OpKind::MatMul) {
      const auto& pm = plan.matrices[static_cast<std::size_t>(
          matrix_index.at(g.tensors[static_cast<std::size_t>(g.ops[i].inputs[1])].name))];
      prepared_last_use[{g.ops[i].inputs[0],
                         reinterpret_cast<const void*>(pm.kernel->prepare_activation)}] = i;
    }
  }

  BufferPool pool(layout, options.max_batch);
  std::map<int, RowBuffer> buffers;                // live activations by tensor id
  std::map<PreparedKey, RowBuffer> prepared;       // live prepared activations
  std::vector<VectorFill> vector_fills;
  std::map<std::string, std::size_t> vector_offsets;
  PhaseTracker phase;

  auto width_of = [&](int t) { return g.tensors[static_cast<std::size_t>(t)].shape.back(); };
  auto fp32_rows = [&](int t) { return pool.take(static_cast<std::size_t>(width_of(t)) * 4); };
  auto vector_at = [&](int t) {
    const std::string& name = g.tensors[static_cast<std::size_t>(t)].name;
    auto it = vector_offsets.find(name);
    if (it != vector_offsets.end()) return it->second;
    const auto& tv = model_tensor(m, name);
    const std::size_t off = layout.place(tv.element_count() * 4);
    vector_fills.push_back({off, &tv});
    vector_offsets[name] = off;
    return off;
  };
  auto add_step = [&](Step step, const std::vector<std::size_t>& reads,
                      const std::vector<std::size_t>& writes) {
    if (phase.needs_barrier(reads, writes)) {
      step.barrier_before = true;
      phase.start_phase();
    }
    phase.record(reads, writes);
    plan.steps.push_back(std::move(step));
  };
  auto cache_resource = [&](std::int64_t layer, bool keys) {
    return (keys ? plan.key_cache : plan.value_cache) + static_cast<std::size_t>(layer);
  };

  for (std::size_t i = 0; i < g.ops.size(); ++i) {
    const auto& op = g.ops[i];
    const bool logit_rows = op.layer < 0 && op.kind != OpKind::Embedding;
    Step s;
    s.name = op.name;
    s.layer = op.layer;
    s.logit_rows_only = logit_rows;
    auto in_buffer = [&](int k) { return buffers.at(op.inputs[static_cast<std::size_t>(k)]); };
    // The output of an element-wise op takes its first input's buffer when that input dies here.
    auto output_in_place = [&]() {
      const int in = op.inputs[0];
      if (last_use[static_cast<std::size_t>(in)] != i)
        fail("CPU lowering: '{}' must run in place but its input lives on", op.name);
      const RowBuffer b = buffers.at(in);
      buffers.erase(in);
      buffers[op.outputs[0]] = b;
      return b;
    };
    switch (op.kind) {
      case OpKind::Embedding: {
        s.kind = StepKind::Embed;
        s.width = c.n_embd;
        s.out = fp32_rows(op.outputs[0]);
        buffers[op.outputs[0]] = s.out;
        add_step(s, {}, {s.out.offset});
        break;
      }
      case OpKind::RmsNorm: {
        s.kind = StepKind::RmsNorm;
        s.in = in_buffer(0);
        s.width = width_of(op.inputs[0]);
        s.vector = vector_at(op.inputs[1]);
        s.out = fp32_rows(op.outputs[0]);
        buffers[op.outputs[0]] = s.out;
        add_step(s, {s.in.offset}, {s.out.offset});
        break;
      }
      case OpKind::HeadNorm:
      case OpKind::Rope: {
        s.kind = op.kind == OpKind::Rope ? StepKind::Rope : StepKind::HeadNorm;
        s.width = width_of(op.inputs[0]);
        s.heads = s.width / c.head_dim;
        if (op.kind == OpKind::HeadNorm) s.vector = vector_at(op.inputs[1]);
        s.in = s.out = output_in_place();
        add_step(s, {s.in.offset}, {s.out.offset});
        break;
      }
      case OpKind::BiasAdd: {
        s.kind = StepKind::BiasAdd;
        s.width = width_of(op.inputs[0]);
        s.vector = vector_at(op.inputs[1]);
        s.in = s.out = output_in_place();
        add_step(s, {s.in.offset}, {s.out.offset});
        break;
      }
      case OpKind::Add:
      case OpKind::SwiGlu: {
        s.kind = op.kind == OpKind::Add ? StepKind::Add : StepKind::SwiGlu;
        s.width = width_of(op.inputs[0]);
        s.in2 = in_buffer(1);
        s.in = s.out = output_in_place();
        add_step(s, {s.in.offset, s.in2.offset}, {s.out.offset});
        break;
      }
      case OpKind::KvAppend: {
        s.kind = StepKind::KvAppend;
        s.keys = g.tensors[static_cast<std::size_t>(op.outputs[0])].name.ends_with(".k");
        s.in = in_buffer(0);
        s.width = width_of(op.inputs[0]);
        add_step(s, {s.in.offset}, {cache_resource(op.layer, s.keys)});
        break;
      }
      case OpKind::Attention: {
        s.kind = StepKind::Attention;
        s.in = in_buffer(0);
        s.width = width_of(op.inputs[0]);
        s.out = fp32_rows(op.outputs[0]);
        buffers[op.outputs[0]] = s.out;
        add_step(s, {s.in.offset, cache_resource(op.layer, true), cache_resource(op.layer, false)},
                 {s.out.offset});
        break;
      }
      case OpKind::MatMul: {
        const int mi = matrix_index.at(g.tensors[static_cast<std::size_t>(op.inputs[1])].name);
        const PlannedMatrix& pm = plan.matrices[static_cast<std::size_t>(mi)];
        const WeightFormat& format = weight_format(pm.packed.type);
        const PreparedKey key{op.inputs[0],
                              reinterpret_cast<const void*>(pm.kernel->prepare_activation)};
        if (!prepared.count(key)) {
          Step prep;
          prep.kind = StepKind::Prepare;
          prep.name = op.name + ".prepare";
          prep.layer = op.layer;
          prep.logit_rows_only = logit_rows;
          prep.in = in_buffer(0);
          prep.width = pm.packed.cols;
          prep.matrix = mi;
          prep.out = pool.take(format.activation_row_bytes(pm.packed.cols));
          prepared[key] = prep.out;
          add_step(prep, {prep.in.offset}, {prep.out.offset});
        }
        s.kind = StepKind::MatMul;
        s.matrix = mi;
        s.in = prepared.at(key);
        s.width = pm.packed.cols;
        s.row_split = split_rows(pm.packed.rows, options.threads);
        s.to_logits = g.tensors[static_cast<std::size_t>(op.outputs[0])].role == TensorRole::Output;
        if (!s.to_logits) {
          s.out = fp32_rows(op.outputs[0]);
          buffers[op.outputs[0]] = s.out;
        }
        add_step(s, {s.in.offset}, {s.to_logits ? logits_resource : s.out.offset});
        if (prepared_last_use.at(key) == i) {
          pool.give_back(prepared.at(key));
          prepared.erase(key);
        }
        break;
      }
      case OpKind::Argmax: break;  // the backend returns logits; sampling picks the token
    }
    // Probing: the op's fp32 output rows copied where nothing reuses them.
    if (options.probe && buffers.count(op.outputs[0])) {
      const int t = op.outputs[0];
      Step copy;
      copy.kind = StepKind::Copy;
      copy.name = op.name + ".probe";
      copy.layer = op.layer;
      copy.logit_rows_only = logit_rows;
      copy.in = buffers.at(t);
      copy.width = width_of(t);
      copy.out = {layout.place(static_cast<std::size_t>(copy.width) * 4 *
                               static_cast<std::size_t>(options.max_batch)),
                  static_cast<std::size_t>(copy.width) * 4};
      plan.probes[g.tensors[static_cast<std::size_t>(t)].name] = {copy.out, copy.width};
      add_step(copy, {copy.in.offset}, {copy.out.offset});
    }
    // Buffers whose last reader this op was go back to the pool.
    for (int in : op.inputs) {
      if (last_use[static_cast<std::size_t>(in)] != i) continue;
      auto it = buffers.find(in);
      if (it == buffers.end()) continue;
      pool.give_back(it->second);
      buffers.erase(it);
    }
  }

  plan.arena = std::make_unique<Arena>(layout.size());
  Arena& arena = *plan.arena;

  plan.token_embd = *m.token_embd;
  std::memcpy(arena.at(embedding), m.token_embd->data.data(), m.token_embd->data.size());
  plan.token_embd.data = {arena.at(embedding), m.token_embd->data.size()};

  for (const auto& f : vector_fills) {
    auto* dst = reinterpret_cast<float*>(arena.at(f.offset));
    model::dequantize_tensor_row(*f.tensor, 0,
                                 std::span<float>(dst, f.tensor->element_count()));
  }
  auto* rope = reinterpret_cast<float*>(arena.at(plan.rope_table));
  for (std::int64_t p = 0; p < options.n_ctx; ++p)
    for (std::int64_t i = 0; i < c.head_dim / 2; ++i) {
      const double theta = model::rope_angle(c, p, i);
      rope[(p * c.head_dim / 2 + i) * 2] = static_cast<float>(std::cos(theta));
      rope[(p * c.head_dim / 2 + i) * 2 + 1] = static_cast<float>(std::sin(theta));
    }

  // Pack every matrix, its rows split over the team.
  struct PackJob {
    const model::TensorView* src;
    const WeightFormat* format;
    PackedMatrix* dst;
    int threads;
  } job{};
  std::size_t packed = 0;
  const auto started = std::chrono::steady_clock::now();
  auto seconds_since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  for (std::size_t k = 0; k < plan.matrices.size(); ++k) {
    PackedMatrix& pm = plan.matrices[k].packed;
    pm.data = arena.at(matrix_offsets[k]);
    job = {matrix_sources[k], &weight_format(pm.type), &pm, team.size()};
    team.run(
        [](void* context, int member) {
          const auto& j = *static_cast<PackJob*>(context);
          const std::int64_t rows = j.dst->rows;
          const std::int64_t begin = rows * member / j.threads;
          const std::int64_t end = rows * (member + 1) / j.threads;
          if (begin < end)
            j.format->pack(j.src->data.data(), const_cast<std::uint8_t*>(j.dst->data), rows,
                           j.dst->cols, begin, end);
        },
        &job);
    const std::size_t before = packed * 10 / std::max<std::size_t>(plan.weight_bytes, 1);
    packed += job.format->packed_bytes(pm.rows, pm.cols);
    const std::size_t after = packed * 10 / std::max<std::size_t>(plan.weight_bytes, 1);
    // Progress only when packing is slow enough to be noticed.
    if (log && after != before && after < 10 && seconds_since_start() > 2.0)
      log(fmt::format("packing weights for the CPU kernels: {}% of {:.0f} MiB", after * 10,
                      static_cast<double>(plan.weight_bytes) / (1 << 20)));
  }
  if (log)
    log(fmt::format("CPU backend: {:.0f} MiB of weights packed for {} kernels on {} thread{} in "
                    "{:.2f} s; {:.0f} MiB in all with the KV cache ({} positions x {} sequence{})",
                    static_cast<double>(plan.weight_bytes) / (1 << 20), isa_name(options.isa),
                    options.threads, options.threads == 1 ? "" : "s", seconds_since_start(),
                    static_cast<double>(arena.size()) / (1 << 20), options.n_ctx, options.n_slots,
                    options.n_slots == 1 ? "" : "s"));
  return plan;
}

}  // namespace lockstep::cpu
