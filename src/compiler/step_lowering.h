// The lowering pass of one model step onto one chip (DecodeProgram, decode_lowering.h): the
// graph of the step (graph/step_graph.h) taken op by op, one function per op kind, each
// emitting scheduled instructions at once (the order of calls is the program order).
//
// The constructor is the placement pass: this chip's share of the weights (its units of the
// layers, its tensor-parallel slice of heads, FFN columns and vocabulary rows), the KV tables,
// the constants and the host buffers go into MEM before any instruction. lower() then walks
// the graph. The architecture's differences (biases, q/k norms, tied heads) come from the graph
// alone: an op the graph does not have is not lowered.
//
// A graph tensor on the chip is a Value: its T rows as a Rows (row_tensor.h), or per-row
// tensors (heads laid out two vectors each), or, inside a cut FFN, one Rows per column group.
// A Value whose columns are this rank's share (heads, FFN columns) is `sharded`; a matmul that
// reads a sharded Value produces a partial sum, completed by the butterfly all-reduce.
//
// Internal to the compiler: nothing outside src/compiler includes this.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "compiler/decode_lowering.h"
#include "compiler/emitter.h"
#include "compiler/mem_allocator.h"
#include "compiler/mxm_weights.h"
#include "compiler/row_tensor.h"
#include "compiler/scheduler.h"
#include "compiler/vector_builder.h"
#include "graph/step_graph.h"
#include "lpu/arch/floorplan.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// A graph tensor as it lies on this chip.
struct Value {
  std::vector<Rows> parts;       // one Rows; or one per FFN column group this chip holds
  std::vector<VTensor> per_row;  // instead of parts: row t's vectors (head layouts)
  bool sharded = false;          // this rank's share of the columns only
  std::int64_t heads = 0;        // > 0: two vectors per head (q, k, v, attention)

  VTensor row(std::uint32_t t) const { return per_row.empty() ? parts.at(0).row(t) : per_row.at(t); }
  const Rows& rows() const { return parts.at(0); }
};

// A value of one Rows, whole-width (not sharded), not in head layout.
inline Value whole(Rows rows) { return Value{{std::move(rows)}, {}, false, 0}; }

// The values of one kv head: rows are blocks of 80 positions, one vector per head dimension
// (lane = position in the block). The dimensions are dealt to parts round robin (dimension d in
// part d mod parts, at index d / parts of its row), each part on its own MEM slice, so that the
// weighted sum's chains each read their own slice queue; a part's rows may spread over several
// one-bank table parts.
struct KvTable {
  std::vector<std::vector<TableRef>> parts;  // [dimension part] -> row parts
  std::uint32_t part_count() const { return static_cast<std::uint32_t>(parts.size()); }
  // Dimensions in part p of a head_dim-wide head cut into `parts`: p, p + parts, ...
  static std::uint32_t dims_in(std::uint32_t p, std::uint32_t parts, std::uint32_t head_dim) {
    return (head_dim - p + parts - 1) / parts;
  }
  std::uint32_t dims_in(std::uint32_t p, std::uint32_t head_dim) const { return dims_in(p, part_count(), head_dim); }
  // Dimension d's part and its index in that part's row, and back.
  std::uint32_t part_of(std::uint32_t d) const { return d % part_count(); }
  std::uint32_t index_of(std::uint32_t d) const { return d / part_count(); }
  std::uint32_t dim_at(std::uint32_t part, std::uint32_t index) const { return part + index * part_count(); }
  VecRef at(std::int64_t block, std::int64_t dim) const;
  std::vector<int> slices() const;
};

// The keys of one kv head, position-major for the MXM (TruePoint's fp16 KV cache): row p is
// position p's key as one fp16 vector (the head's two fp32 vectors packed by ConvertF32ToF16),
// so the key table is a matrix of positions x head dimensions whose blocks of 320 positions the
// MXM installs as weights, once for every query head of the group. Each block sits on a slice
// of its own (its plane loads it one row per cycle while the others load theirs), cut at bank
// boundaries into table parts, one Scatter each to append a key.
struct KeyTable {
  std::vector<TableRef> parts;  // one-bank runs of rows, in position order
  MxmWeights weights;           // the same rows as fp16 weight blocks of one chunk
};

// The chip-side plan of one layer: what this chip holds of it, placed.
struct LayerPlacement {
  bool attention = false, ffn = false;
  int first_part = 0, end_part = 0;  // the FFN column groups [first, end) held here
  std::vector<KeyTable> keys;    // [local kv head]
  std::vector<KvTable> values;   // [local kv head]
};

class StepLowering {
 public:
  // Places everything (the placement pass): each matmul's weights at the precision the
  // precision pass gave its weight tensor in `graph` (compiler/precision.h). Throws DoesNotFit
  // when the chip's SRAM is short. `graph` must outlive the lowering.
  // Weight blocks sit on `load_width` slices per MXM plane (mxm_weights.h).
  StepLowering(const graph::Graph& graph, const model::ModelConfig& config, const model::Model* model,
               const SystemConfig& system, const DecodeOptions& options, const StageSpec& stage,
               Program& program, std::int64_t context, std::uint32_t rows, int load_width);

  // Receives the stage's input (and forwards it to the stage's peers); false when the stage
  // compiles its input only (StageSpec::input_only).
  bool receive_input();
  // Lowers every op of the graph this chip holds, in graph order, then sends the stage's output.
  void lower();
  // Ends scheduling and checks the program; returns the predicted cycles.
  std::uint64_t finish();

  // The placement pass's log (weights, tables and host buffers).
  const std::vector<Allocation>& placement() const { return placement_; }
  std::uint64_t sram_bytes() const { return alloc_.used_bytes(); }
  std::int64_t vocab_first() const { return vocab_first_; }
  std::int64_t vocab_rows() const { return vocab_rows_; }
  std::int64_t token_first() const { return token_first_; }
  std::uint32_t logits_stride() const { return logits_stride_; }
  const std::vector<std::uint64_t>& output_sends() const { return output_sends_; }
  const std::vector<std::uint64_t>& forward_sends() const { return forward_sends_; }
  std::uint64_t input_ready() const { return input_ready_; }
  // DecodeOptions::probe: every graph tensor lowered, by its graph name.
  const std::map<std::string, TensorPlacement>& probes() const { return probes_; }

 private:
  // ---- One function per graph op kind.
  void lower_embedding(const graph::Op& op);
  void lower_rms_norm(const graph::Op& op);
  void lower_matmul(const graph::Op& op);
  void lower_bias_add(const graph::Op& op);
  // The attention block's per-row ops, one row t at a time (lower_rows).
  void lower_head_norm(const graph::Op& op, std::uint32_t t);
  void lower_rope(const graph::Op& op, std::uint32_t t);
  void lower_kv_append(std::span<const graph::Op* const> ops, std::uint32_t t);
  void lower_attention(const graph::Op& op, std::uint32_t t);
  void lower_rows(const std::vector<const graph::Op*>& ops);
  void lower_add(const graph::Op& op);
  void lower_swiglu(const graph::Op& op);

  // ---- Layer boundaries: the residual stream x, the units this chip holds.
  bool held(const graph::Op& op) const;
  void begin_layer(std::int64_t layer);
  void end_layer();

  // ---- Placement.
  void place_layer(std::int64_t l);
  void place_embedding();
  void place_kv_cache();
  VTensor input_buffer(const std::string& name, std::uint32_t n, ElementType type, std::uint32_t elements);
  VTensor constant(const std::string& name, const std::vector<float>& values);
  std::vector<TableRef> table(const std::string& name, std::int64_t rows, std::int32_t row_vectors, Pool pool,
                              const std::vector<int>& avoid = {});
  KvTable kv_table(const std::string& name, std::vector<int>& avoid);
  KeyTable key_table(const std::string& name, std::vector<int>& avoid);
  std::vector<float> vector_of(const model::TensorView* t);
  std::vector<float> head_layout(const std::vector<float>& v, std::int64_t heads, std::int64_t first = 0);
  // The MXM type (I8 or F16) of the matmul op named `op`, from its weight tensor's precision.
  ElementType mxm_type(const std::string& op) const;
  // Each places (and packs, with weights) a matmul op's matrix, or one FFN group of it, under
  // `name`, at mxm_type(op).
  MxmWeights projection(const std::string& op, const std::string& name, const model::TensorView* t,
                        std::uint32_t rows, std::uint32_t cols,
                        const std::function<void(std::uint32_t, float*, std::vector<float>&)>& row);
  MxmWeights head_projection(const std::string& op, const model::TensorView* t, std::int64_t first,
                             std::int64_t count);
  MxmWeights row_projection(const std::string& op, const std::string& name, const model::TensorView* t,
                            std::int64_t row_first, std::int64_t rows, std::int64_t col_first, std::int64_t cols);
  MxmWeights head_input_projection(const std::string& op, const model::TensorView* t, std::int64_t rows,
                                   std::int64_t first, std::int64_t count);

  // ---- Building blocks.
  void release(const MemAllocator::Mark& mark);  // frees temporaries, unless probing
  void record_probes();
  std::uint32_t n_vectors_of(const Value& v) const;
  std::uint32_t vectors(std::int64_t n) const { return static_cast<std::uint32_t>((n + lanes_ - 1) / lanes_); }
  const Value& value(int tensor) const;
  const MxmInput& mxm_input(int tensor, ElementType type, const std::string& name);
  Rows rms_norm(const Rows& in, const VTensor& weight, const std::string& name);
  Rows add_rows(const Rows& a, const Rows& b, const std::string& name);
  Rows all_reduce(const Rows& partial, const std::string& name);
  VTensor head_norm(const VTensor& t, std::int64_t heads, const VTensor& w, const std::string& name);
  VTensor rope(const VTensor& t, std::int64_t heads, const VTensor& cos, const VTensor& sin, const std::string& name);
  void append_kv(const VTensor& source, const KvTable& table, std::int64_t g,
                 const VTensor& onehot, const VTensor& pos_block, const std::string& name);
  void append_key(const VTensor& source, const KeyTable& table, std::int64_t g, const VTensor& position,
                  const std::string& name);
  // Attention of row t's query heads, phase by phase (attention_lowering.cpp).
  struct HeadWork;
  void finish_heads(std::vector<HeadWork>& heads, const LayerPlacement& lp, const Rows& out, std::uint32_t t);
  void score(std::vector<HeadWork>& heads, const VTensor& q, const LayerPlacement& lp, const std::string& name);
  void softmax(HeadWork& h, std::uint32_t t);
  void weigh_values(std::vector<HeadWork>& heads, const LayerPlacement& lp);
  void place_head_output(HeadWork& h, const KvTable& values, const Rows& out, std::uint32_t t);
  std::vector<std::pair<VecRef, std::uint32_t>> stripes(const Rows& r) const;
  std::vector<std::pair<VecRef, std::uint32_t>> boundary(const Rows& x, const Rows* sum) const;
  VTensor host_row(const VTensor& buffer, std::uint32_t t, std::uint32_t per_row = 1) const;
  static VecRef table_vector(const std::vector<TableRef>& parts, std::int64_t row, std::int64_t i);
  static VTensor as_tensor(const std::vector<TableRef>& parts);
  static VTensor as_tensor(const KvTable& table);

  // ---- The compilation's fixed facts.
  const model::ModelConfig& c_;
  const model::Model* m_;
  const ChipConfig& chip_;
  const SystemConfig& system_;
  const graph::Graph* graph_;
  const StageSpec& st_;
  Program& program_;
  Floorplan fp_;
  MemAllocator alloc_;
  Scheduler scheduler_;
  Emitter emitter_;
  VectorBuilder vb_;
  MxmPlacer placer_;
  std::uint32_t lanes_;         // fp32 lanes per vector
  std::int64_t context_;
  std::uint32_t blocks_;        // 80-position blocks of the window
  std::uint32_t T_;             // rows (tokens) per run
  int P_, rank_, K_, U_;        // tensor-parallel degree and rank; FFN groups, units per layer
  std::int64_t end_unit_;
  std::int64_t group_, heads_, q_first_, kv_first_, kv_heads_;
  std::int64_t ffn_, ffn_first_, ffn_group_;
  std::int64_t embedding_rows_, stage_embedding_rows_;
  std::int64_t vocab_first_ = 0, vocab_rows_ = 0, token_first_ = 0;
  bool acc_in_ = false, acc_out_ = false, tight_ = false;
  std::int64_t value_parts_ = 32;  // dimension parts of every value table (place_kv_cache)
  std::uint32_t nv_;            // vectors of one row of x
  std::uint32_t row_vectors_;   // vectors of one fp16 embedding row

  // ---- Placed.
  std::vector<LayerPlacement> layers_;
  std::map<std::string, VTensor> vectors_;                  // by graph weight tensor name
  std::map<std::string, std::vector<MxmWeights>> matrices_;  // by graph op name; FFN: per group
  std::map<std::string, std::int64_t> head_rows_;            // matrices whose rows are heads
  std::vector<TableRef> embedding_;
  VTensor lane_masks_;
  VTensor token_, pos_row_, pos_block_, onehot_, rope_cos_, rope_sin_, mask_;
  std::vector<Allocation> placement_;

  // ---- Lowered so far.
  std::map<int, Value> values_;        // by graph tensor index
  std::map<std::pair<int, ElementType>, MxmInput> mxm_inputs_;  // by graph tensor index and MXM type
  Rows x_, acc_received_;               // the residual stream; the FFN's running sum received
  Rows x_next_, acc_sent_, acc_last_;   // the current layer's output; the running sum sent on
  std::int64_t layer_ = -1;
  bool skip_layer_ = false, cut_after_ = false;
  MemAllocator::Mark layer_mark_{};
  std::uint32_t logits_stride_ = 0;
  std::vector<std::uint64_t> output_sends_, forward_sends_;
  std::uint64_t input_ready_ = 0;
  bool probe_ = false;
  std::map<std::string, TensorPlacement> probes_;
};

}  // namespace lockstep::compiler
