// The CPU target's static plan: a model step (graph/step_graph.h) lowered to a fixed list of
// kernel calls over buffers at fixed offsets of one arena, with the work of every call split
// ahead of time over a fixed team of threads that meet at barriers where a step reads what an
// earlier step of the same phase wrote.
//
// One plan serves every step shape: `n` tokens (1 = decode, up to max_batch = a prefill chunk)
// at any position below n_ctx; n and the position are the only run-time parameters. Every
// value is computed by code whose order does not depend on n, the position's neighbours or the
// thread count (matmul_kernels.h's contract, attention per head, row-wise ops per row), so the
// logits are the same bits at every thread count.
#pragma once

#include <cstdint>
#include <functional>
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
  std::int64_t n_ctx = 256;      // KV cache positions
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
  Rope,       // rotate each head of in[t] (in place) at position pos + t
  KvAppend,   // cache[layer][kv head][pos + t] = fp16(in[t] head)
  Attention,  // out[t] head h = softmax(q k^T / sqrt(d)) v over positions 0 .. pos + t
  Add,        // out[t] = in[t] + in2[t]
  SwiGlu,     // out[t] = silu(in[t]) * in2[t]
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
  std::size_t key_cache = 0, value_cache = 0;     // [n_layer][n_head_kv][n_ctx][head_dim] fp16
  std::size_t rope_table = 0;                     // [n_ctx][head_dim / 2][2] fp32 (cos, sin)
  std::size_t scores = 0;                         // [threads][n_ctx] fp32 attention scratch
  std::size_t weight_bytes = 0;                   // packed matrices, bytes
  std::unique_ptr<Arena> arena;
  // When not empty ([steps.size() + 1] s, the last slot = barrier waits): member 0 adds the
  // time it spends in each step (its own share), for `profile_report`.
  std::vector<double> profile;
};

// Member 0's time by step kind and in barriers, largest first, as text lines (empty unless the
// plan's profile was switched on by sizing it).
std::string profile_report(const Plan& plan);

// Lowers the model's step graph to a plan and packs its weights into the plan's arena, the
// packing split over `team` (options.threads must equal team.size()). The plan keeps no pointer
// into the model. log receives progress lines (may be empty).
// Throws lockstep::Error when a weight type has no kernel or the arena cannot be allocated.
Plan lower_to_plan(const model::Model& model, const PlanOptions& options, ThreadTeam& team,
                   const std::function<void(const std::string&)>& log);

// Runs tokens [n] at positions [pos, pos + n) (n <= max_batch, pos + n <= n_ctx, ids valid:
// the caller checks) on `team`, writing logits [n][n_vocab] fp32 when all_logits, else
// [n_vocab] fp32 for the last token. No allocation, lock or system call.
void run_plan(Plan& plan, ThreadTeam& team, const std::int32_t* tokens, std::int64_t n,
              std::int64_t pos, float* logits, bool all_logits);

}  // namespace lockstep::cpu
