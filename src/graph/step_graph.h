// The graph IR of one model step: every operation of a decode step (one token at position p,
// attending over p cached positions) or of a prefill chunk (T tokens at positions p .. p+T-1),
// with the shape, storage type and byte size of every tensor it touches. Built from a
// ModelConfig alone (weights optional), so catalog shapes without weight files have graphs too.
// This is what compilers (lpu/, cpu/) lower; the reference pass computes the same operations.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/model_config.h"
#include "numerics/tensor_type.h"

namespace lockstep::graph {

enum class OpKind {
  Embedding,  // rows of token_embd for the input ids
  RmsNorm,    // x / sqrt(mean(x^2) + eps) * w, per row
  HeadNorm,   // RmsNorm per attention head (Qwen3 q/k norm)
  MatMul,     // y[t] = W x[t]; W is a stored weight
  BiasAdd,    // y[t] += b (Qwen2 q/k/v)
  Rope,       // rotary position embedding of q or k
  KvAppend,   // write this step's k or v rows into the cache
  Attention,  // causal softmax(q k^T / sqrt(d)) v over cached and new positions, fp32
  Add,        // residual add
  SwiGlu,     // silu(gate) * up
  Argmax,     // greedy token of the last row
};

const char* op_kind_name(OpKind kind);

// The block of a transformer layer an op belongs to: what a partition cuts at (a chip may hold
// a layer's attention and not its FFN, or some of the FFN's columns).
enum class LayerBlock { None, Attention, Ffn };

enum class TensorRole { Input, Weight, Activation, KvCache, Output };

// The precision a target computes on a tensor at: the TruePoint choice, made per tensor by the
// compiler's precision pass (compiler/precision.h). The builder leaves every tensor Fp32. The CPU
// computes from each tensor's storage `type`, bit-exactly, and does not read it; the LPU stores
// a matmul weight at its precision and feeds the MXM that matmul's input at the same precision.
enum class Precision { Fp32, Fp16, Int8 };

const char* precision_name(Precision precision);  // "fp32", "fp16", "int8"

struct TensorInfo {
  std::string name;                      // "blk.3.attn_q.weight", "x.3.attn_out", ...
  TensorRole role = TensorRole::Activation;
  numerics::TensorType type = numerics::TensorType::F32;
  std::vector<std::int64_t> shape;       // outermost first: [rows, cols]
  std::uint64_t bytes = 0;               // as stored
  Precision precision = Precision::Fp32; // as computed on (the precision pass's choice)
};

struct Op {
  OpKind kind;
  std::string name;              // unique: "blk.3.attn_q"
  std::int64_t layer = -1;       // -1 outside the blocks
  LayerBlock block = LayerBlock::None;
  std::vector<int> inputs;       // indices into Graph::tensors
  std::vector<int> outputs;      // indices into Graph::tensors
  std::uint64_t flops = 0;       // multiply-adds count 2
};

struct StepShape {
  std::int64_t n_tokens = 1;     // 1 = decode; > 1 = prefill chunk
  std::int64_t position = 0;     // position of the first token (= cached positions before it)
  bool logits_every_row = false; // the head on every row (perplexity, a chip's prefill), not
                                 // only the last (serving needs the next token only)
};

struct Graph {
  model::ModelConfig config;
  StepShape step;
  std::vector<TensorInfo> tensors;
  std::vector<Op> ops;  // in execution order

  std::uint64_t total_flops() const;
  std::uint64_t weight_bytes() const;    // weights read once by the step
  std::uint64_t kv_bytes_read() const;   // cache read by attention
  std::uint64_t kv_bytes_written() const;
};

// Storage types of the weight matrices by GGUF tensor name; a name that is absent uses
// `default_type`. 1-D tensors (norms, biases) are f32 unless named.
struct WeightTypes {
  numerics::TensorType default_type = numerics::TensorType::F16;
  std::map<std::string, numerics::TensorType> by_name;
  numerics::TensorType kv_type = numerics::TensorType::F32;
};

// Builds the graph of one step. Throws lockstep::Error when the step does not fit
// config.n_ctx_train or n_tokens < 1.
Graph build_step_graph(const model::ModelConfig& config, const StepShape& step,
                       const WeightTypes& types);

// Checks that every op's inputs are produced before it (or are inputs/weights/cache) and that
// shapes agree (matmul inner dimensions, element-wise operands). Throws lockstep::Error naming
// the op on the first violation.
void verify_graph(const Graph& graph);

}  // namespace lockstep::graph
