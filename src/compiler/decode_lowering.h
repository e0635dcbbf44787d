// One step of a transformer lowered onto one chip: a program that, run once per token (decode)
// or once per chunk of T tokens (prefill), takes the token ids and their positions from host
// buffers, updates the KV cache kept in MEM, and leaves the logits of every row in MEM. In a
// prefill chunk every weight streams through the MXM once for all T rows. The program is the same for every position up to the compiled
// context (attention covers the whole window, masked), so its cycle count is the same for every
// token: that is the point of the machine.
//
// Layouts (docs/lpu.md): the residual stream and every element-wise tensor are fp32 vectors of
// 80 lanes; q, k and v put each head in two vectors, the first and second of every RoPE pair in
// lanes 0 .. head_dim/2 - 1 (the projection rows are permuted and padded to make it so, and wo's
// columns follow); keys are cached position-major in fp16 (one vector per position, installed
// as MXM weights for q.K), values dimension-major in fp32 (80 positions per vector).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compiler/precision.h"
#include "graph/step_graph.h"
#include "compiler/emitter.h"
#include "compiler/mem_allocator.h"
#include "lpu/program/program.h"
#include "lpu/arch/system_config.h"
#include "model/model.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// The C2C channels a stage program uses (floorplan.h: 0-7 sit west, 8-15 east). A system
// program maps them onto links (system_program.h).
inline constexpr int kChannelButterfly = 0;     // 0, 1, 2: all-reduce step s, partner rank ^ 2^s
inline constexpr int kChannelInput = 3;         // the stage's input, from the previous stage
inline constexpr int kChannelOutput = 4;        // the stage's output, to the next stage
inline constexpr int kChannelFromIngress = 5;   // the input, forwarded by the stage's ingress chip
inline constexpr int kChannelForward = 8;       // 8 .. 14: the ingress chip's forward to peer k

// Link timing of one vector (topology.h), cycles @ core clock.
struct LinkCycles {
  std::uint16_t occupancy = 24;  // a vector holds its link this long
  std::uint32_t transfer = 241;  // departure to arrival
};

// The part of the model one chip of a multi-chip system runs (partition: system_lowering.h).
// A stage holds the units [first_unit, end_unit). Every layer is 1 + K units (K = ffn_parts):
// unit (1 + K) l is the attention of layer l, unit (1 + K) l + 1 + k the FFN's column group k
// (gate and up rows, down columns), so a large FFN can be cut between stages. A stage that
// starts or ends inside an FFN receives or sends, after x (the FFN's input then), the sum of
// the FFN groups so far; the last group adds it to x. With tp_size P > 1 every chip of the stage holds 1/P of each unit (query
// heads, their key/value heads, FFN columns, and vocabulary rows of the embedding and the LM
// head); the partial sums meet in a butterfly all-reduce over log2(P) channels, in which both
// partners add the same two vectors, so every rank keeps the same bits. The program is the same
// for every rank: the rank only chooses the weights (and the host's token index, shifted to
// the rank's vocabulary rows).
struct StageSpec {
  int first_unit = 0;
  int end_unit = -1;        // -1: through the last layer
  int ffn_parts = 1;        // K: column groups of each FFN, each a unit
  bool embedding = true;    // embeds the tokens (else receives the residual stream x)
  // The vocabulary rows whose embedding this stage holds (all ranks together; rows < 0: all).
  // A large vocabulary spreads over several stages: each adds its rows' part to the partial
  // embedding it receives (embedding_adds), a token outside them adding zeros.
  std::int64_t embedding_first = 0;
  std::int64_t embedding_rows = -1;
  bool embedding_adds = false;
  bool head = true;         // computes the logits of its vocabulary rows
  int tp_size = 1;          // P: 1, 2, 4 or 8
  int tp_rank = 0;
  bool ingress = false;     // receives x on kChannelInput and forwards it to its P - 1 peers
  bool egress = false;      // sends its output x on kChannelOutput
  // A stage without embedding: program cycles at which the vectors of x arrive on its receive
  // channel (kChannelInput on the ingress chip, kChannelFromIngress on the others), in order.
  std::vector<std::uint64_t> input_arrivals;
  std::uint64_t body_floor = 0;  // no instruction of the layers before this cycle
  bool input_only = false;       // stop after receiving (and forwarding) the input: the system
                                 // compiler's first pass, to learn when the input is in place
  LinkCycles link;
};

struct DecodeOptions {
  compiler::PrecisionPolicy weights = compiler::WeightPrecision::Fp16;
  std::int64_t context = 0;  // positions the KV cache holds (0: the model's, at most 4096)
  std::int64_t rows = 1;          // tokens per run: 1 = a decode step, T > 1 = a prefill chunk
  // Keep every graph tensor of the step in MEM to the end of the run and say where
  // (DecodeProgram::read_tensor), to check the chip op by op against another target. The
  // lowering then frees nothing, so the schedule differs from the real one.
  bool probe = false;
};

// Which dimension of a head sits in lane i of its first (half 0) or second (half 1) vector.
inline std::int64_t head_dim_at(const model::ModelConfig& c, int half, std::int64_t i) {
  if (c.rope_style == model::RopeStyle::AdjacentPairs) return 2 * i + half;
  return i + half * (c.head_dim / 2);
}

// Where a graph tensor of the step lies in MEM after a run (DecodeOptions::probe): per row,
// the vectors holding it, in order. heads > 0: q, k, v and attention outputs in the
// two-vectors-per-head layout of `heads` heads (see the file comment); else element e sits in
// lane e % lanes of vector e / lanes.
struct TensorPlacement {
  std::vector<std::vector<VecRef>> rows;  // [row][vector]
  std::int64_t heads = 0;
  std::int64_t width = 0;                 // elements per row (this chip's share)
};

class DecodeProgram {
 public:
  // With `model`, the memory image holds its weights (functional runs); with only a config the
  // program is for timing.
  // `stage` is the part of the model this chip runs (the whole model by default).
  DecodeProgram(const model::ModelConfig& config, const model::Model* model,
                const SystemConfig& system, const DecodeOptions& options,
                const StageSpec& stage = {});

  const Program& program() const { return program_; }
  std::int64_t context() const { return context_; }
  std::uint64_t sram_bytes() const { return sram_bytes_; }  // placed, bytes

  std::uint32_t rows() const { return rows_; }

  // With DecodeOptions::probe: the graph tensors (graph/step_graph.h names) this chip computed,
  // and one of them as [rows][elements] fp32 (elements: the graph's width, this chip's share
  // of it with tensor parallelism), read from the chip's MEM by read_vector(slice, address).
  std::vector<std::string> probed_tensors() const;
  std::vector<float> read_tensor(
      const std::string& tensor,
      const std::function<std::vector<std::uint8_t>(int slice, std::uint32_t addr)>& read_vector) const;

  // The placement pass's result: weights, tables and host buffers, before lowering.
  const std::vector<Allocation>& placement() const { return placement_; }

  // The host interface (tokens in, logits out) is recorded in program().host and the buffers'
  // roles; lpu/program/host_interface.h fills and reads it. The same facts, for the compiler:
  // the logits' columns are vocabulary ids vocab_first() + j, j < vocab_rows().
  std::int64_t vocab_first() const { return vocab_first_; }
  // The first embedding row this chip holds: the host gives it the token id less this.
  std::int64_t token_first() const { return token_first_; }
  std::uint32_t logits_stride() const { return logits_stride_; }
  std::int64_t vocab_rows() const { return vocab_rows_; }

  // Multi-chip stages: issue cycles of the vectors sent on kChannelOutput (egress) and on the
  // forward channels (ingress; the same cycles on every forward channel), in order.
  const std::vector<std::uint64_t>& output_sends() const { return output_sends_; }
  const std::vector<std::uint64_t>& forward_sends() const { return forward_sends_; }
  // The cycle the last input vector is in MEM (0 for an embedding stage).
  std::uint64_t input_ready() const { return input_ready_; }

 private:
  // The lowering proper, with weight blocks on `load_width` slices per MXM plane.
  void lower(const graph::Graph& graph, const model::ModelConfig& config, const model::Model* model,
             const SystemConfig& system, const DecodeOptions& options, const StageSpec& stage, int load_width);

  model::ModelConfig config_;
  ChipConfig chip_;
  Program program_;
  std::int64_t context_ = 0;
  std::uint32_t rows_ = 1;
  std::uint32_t logits_stride_ = 0;  // vectors per row of the logits as laid out
  std::uint64_t sram_bytes_ = 0;
  std::vector<Allocation> placement_;
  std::int64_t vocab_first_ = 0;
  std::int64_t vocab_rows_ = 0;
  std::int64_t token_first_ = 0;
  std::vector<std::uint64_t> output_sends_, forward_sends_;
  std::uint64_t input_ready_ = 0;
  std::map<std::string, TensorPlacement> probes_;
};

}  // namespace lockstep::compiler
