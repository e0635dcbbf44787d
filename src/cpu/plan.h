// The CPU target's static plan: a model step (graph/step_graph.h) lowered to a fixed list of
// kernel calls over buffers at fixed offsets of one arena, with the work of every call split
// ahead of time over a fixed team of threads that meet at barriers where a step reads what an
// earlier step of the same phase wrote.
//
// One plan serves every step shape: `n` rows (1 = decode, up to max_batch = a prefill chunk, or
// a batch of sequences), each a token of one of n_slots sequences (KV caches) at any position
// below n_ctx; the rows are the only run-time parameter. Every value is computed by code whose
// order does not depend on n, the other rows or the thread count (matmul_kernels.h's contract,
// attention per head, row-wise ops per row), so a row's logits are the same bits whatever rows
// run beside it and at every thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cpu/arena.h"
#include "cpu/isa.h"
#include "cpu/matmul_kernels.h"
#include "cpu/thread_team.h"
#include "cpu/vector_kernels.h"
#include "model/model.h"

namespace lockstep::cpu {

struct PlanOptions {
  int threads = 1;               // members of the team that will run the plan
  Isa isa = Isa::Portable;
  std::int64_t max_batch = 256;  // tokens per step
  std::int64_t n_ctx = 256;      // KV cache positions per sequence
  std::int64_t n_slots = 1;      // sequences whose KV caches the plan holds at once
  // Copy every graph tensor a step computes into a buffer of its own (Plan::probes), to check
  // the plan op by op against another target. Costs a copy per op: for tests.
  bool probe = false;
};

// One row of a step: token `token` of sequence `slot` at `position`.
struct PlanRow {
  std::int32_t token = 0;
  std::int32_t slot = 0;
  std::int64_t position = 0;
};

// max_batch rows of row_bytes each, at an arena offset.
struct RowBuffer {
  std::size_t offset = 0;
  std::size_t row_bytes = 0;
};

enum class StepKind {
  Embed,      // x[t] = token_embd row of token t
  RmsNorm,    // out[t] = rms_norm(in[t]) * vector
  HeadNorm,   // per head of in[t] (in place): rms_norm(head) * vector ([head_dim])
  Prepare,    // out[t] = the matmul kernel's activation format of in[t]
  MatMul,     // out[t] = W in[t] (in: prepared rows); rows of W split over the team
  BiasAdd,    // out[t] = in[t] + vector
  Rope,       // rotate each head of in[t] (in place) at row t's position p_t
  KvAppend,   // cache[slot_t][layer][kv head][p_t] = fp16(in[t] head)
  Attention,  // out[t] head h = softmax(q k^T / sqrt(d)) v over slot_t's positions 0 .. p_t
  Add,        // out[t] = in[t] + in2[t]
  SwiGlu,     // out[t] = silu(in[t]) * in2[t]
  Copy,       // out[t] = in[t], width fp32 values (PlanOptions::probe)
};

struct Step {
  StepKind kind = StepKind::Add;
  std::string name;              // the graph op it comes from ("blk.3.attn_q")
  std::int64_t layer = -1;
  bool barrier_before = false;   // every member waits for all before starting this step
  bool logit_rows_only = false;  // runs on the rows whose logits are wanted (see run_plan)
  RowBuffer in, in2, out;
  std::int64_t width = 0;        // values per row of `in` (MatMul: the matrix's cols)
  std::size_t vector = 0;        // arena offset of an fp32 vector: norm weight or bias
  int matrix = -1;               // MatMul: index into Plan::matrices
  bool to_logits = false;        // MatMul: writes the caller's logits instead of `out`
  bool keys = false;             // KvAppend: the key cache (else the value cache)
  std::int64_t heads = 0;        // HeadNorm, Rope: heads per row
  std::vector<std::int64_t> row_split;  // MatMul: [threads + 1] output-row boundaries
};

struct PlannedMatrix {
  std::string name;              // GGUF tensor name
  PackedMatrix packed;           // data points into the arena
  const MatmulKernel* kernel = nullptr;
};

struct Plan {
  model::ModelConfig config;
  // The embedding table as stored in the file, copied into the arena (so that a lookup never
  // page-faults on the file mapping); its data points into the arena.
  model::TensorView token_embd;
  PlanOptions options;
  std::vector<Step> steps;                        // in execution order
  std::vector<PlannedMatrix> matrices;
  const VectorKernels* vectors = nullptr;
  // [n_slots][n_layer][n_head_kv][n_ctx][head_dim] fp16 each
  std::size_t key_cache = 0, value_cache = 0;
  std::size_t slot_cache_bytes = 0;               // one slot's share of each, bytes
  std::size_t rope_table = 0;                     // [n_ctx][head_dim / 2][2] fp32 (cos, sin)
  std::size_t scores = 0;                         // [threads][n_ctx] fp32 attention scratch
  std::size_t weight_bytes = 0;                   // packed matrices, bytes
  std::unique_ptr<Arena> arena;
  // PlanOptions::probe: where each graph tensor (graph/step_graph.h names) is kept, [max_batch]
  // rows of `width` fp32 values; read_probe gives the rows of the last run.
  struct Probe {
    RowBuffer rows;
    std::int64_t width = 0;
  };
  std::map<std::string, Probe> probes;
  // When not empty ([steps.size() + 1] s, the last slot = barrier waits): member 0 adds the
  // time it spends in each step (its own share), for `profile_report`.
  std::vector<double> profile;
};

// Copies positions [0, n) of every layer's keys and values from slot `from` to slot `to`
// (a shared prompt prefix). The caller checks the slots and n.
void copy_kv_prefix(Plan& plan, int from, int to, std::int64_t n);

// A probed graph tensor after run_plan: rows [first, n) of it as [n - first][width] fp32 (the
// head's tensors hold only the rows whose logits were wanted). Throws lockstep::Error when the
// plan keeps no such tensor.
std::vector<float> read_probe(const Plan& plan, const std::string& tensor, std::int64_t first,
                              std::int64_t n);

// Member 0's time by step kind and in barriers, largest first, as text lines (empty unless the
// plan's profile was switched on by sizing it).
std::string profile_report(const Plan& plan);

// Lowers the model's step graph to a plan and packs its weights into the plan's arena, the
// packing split over `team` (options.threads must equal team.size()). The plan keeps no pointer
// into the model. log receives progress lines (may be empty).
// Throws lockstep::Error when a weight type has no kernel or the arena cannot be allocated.
Plan lower_to_plan(const model::Model& model, const PlanOptions& options, ThreadTeam& team,
                   const std::function<void(const std::string&)>& log);

// Runs rows [n] (n <= max_batch; ids, slots and positions valid: the caller checks) on `team`,
// writing logits [n - first_logit_row][n_vocab] fp32 for rows first_logit_row .. n - 1. A row
// attends over its slot's positions 0 .. p: those below p come from earlier calls or from
// earlier rows of this call (rows of one slot must have distinct positions). No allocation,
// lock or system call.
void run_plan(Plan& plan, ThreadTeam& team, const PlanRow* rows, std::int64_t n,
              std::int64_t first_logit_row, float* logits);

}  // namespace lockstep::cpu
