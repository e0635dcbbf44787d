#include "compiler/decode_lowering.h"

#include "compiler/mxm_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"
#include "compiler/precision.h"
#include "compiler/step_lowering.h"
#include "graph/step_graph.h"
#include "lpu/program/host_interface.h"

namespace lockstep::compiler {
namespace {

constexpr std::int64_t kDefaultContext = 4096;

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
  context_ = options.context > 0 ? options.context : std::min(c.n_ctx_train, kDefaultContext);
  program_.system = system.name;
  rows_ = static_cast<std::uint32_t>(std::max<std::int64_t>(1, options.rows));
  program_.description = rows_ == 1 ? fmt::format("decode {} context {}", c.name, context_)
                                    : fmt::format("prefill {} tokens of {} context {}", rows_, c.name, context_);
  if (P > 1 || !st.embedding || !st.head || st.first_unit > 0 || end_unit < U * c.n_layer)
    program_.description += fmt::format(" units {}..{} of {} x {}-way", st.first_unit, end_unit, rows_, P);

  // The step's graph: the architecture's ops, in order; every row's logits (the host reads
  // the rows it needs).
  graph::Graph graph = graph::build_step_graph(
      c, {.n_tokens = rows_, .position = 0, .logits_every_row = true}, graph::WeightTypes{});
  assign_precision(graph, options.weights);  // the precision pass: each weight's TruePoint type
  // Weight blocks 15 wide when the chip has room, else as wide as the chip loads
  // (mxm_weights.h): a failed placement leaves the program as it was before it.
  const int narrow = narrow_mxm_load_width(chip_), wide = chip_.mxm_load_streams;
  const Program before = program_;
  for (const int width : {narrow, wide}) {
    try {
      lower(graph, c, model, system, options, st, width);
      return;
    } catch (const DoesNotFit&) {
      if (width == wide) throw;
      program_ = before;
      probes_.clear();
    }
  }
}

void DecodeProgram::lower(const graph::Graph& graph, const model::ModelConfig& c, const model::Model* model,
                          const SystemConfig& system, const DecodeOptions& options, const StageSpec& st,
                          int load_width) {
  StepLowering lowering(graph, c, model, system, options, st, program_, context_, rows_, load_width);
  placement_ = lowering.placement();
  vocab_first_ = lowering.vocab_first();
  vocab_rows_ = lowering.vocab_rows();
  token_first_ = lowering.token_first();
  const bool body = lowering.receive_input();
  forward_sends_ = lowering.forward_sends();
  input_ready_ = lowering.input_ready();
  if (!body) return;
  lowering.lower();
  output_sends_ = lowering.output_sends();
  logits_stride_ = lowering.logits_stride();
  // What the host needs beside the buffers' roles (lpu/program/host_interface.h).
  std::uint32_t stripes = 0;
  for (const HostBuffer& b : program_.buffers) stripes += b.role == HostRole::LogitsStripe ? 1 : 0;
  program_.host = {rows_, static_cast<std::uint32_t>(chip_.vector_bytes),
                   static_cast<std::uint32_t>(chip_.fp32_lanes()), context_, c.n_vocab,
                   {token_first_, vocab_first_}, stripes > 0 ? vocab_rows_ : 0,
                   stripes > 0 ? logits_stride_ : 0, stripes,
                   {c.head_dim, c.rope_theta, c.rope_linear_scale, c.rope_freq_factors}};
  lowering.finish();
  sram_bytes_ = lowering.sram_bytes();
  probes_ = lowering.probes();
}

std::vector<std::string> DecodeProgram::probed_tensors() const {
  std::vector<std::string> names;
  for (const auto& [name, placement] : probes_) names.push_back(name);
  return names;
}

std::vector<float> DecodeProgram::read_tensor(
    const std::string& tensor,
    const std::function<std::vector<std::uint8_t>(int slice, std::uint32_t addr)>& read_vector) const {
  auto it = probes_.find(tensor);
  if (it == probes_.end())
    fail("the program keeps no tensor named '{}' (compile it with DecodeOptions::probe)", tensor);
  const TensorPlacement& p = it->second;
  const std::size_t lanes = static_cast<std::size_t>(chip_.fp32_lanes());
  const std::int64_t hd = config_.head_dim;
  const std::size_t width = static_cast<std::size_t>(p.width);
  std::vector<float> out;  // [rows][width]
  for (const std::vector<VecRef>& row : p.rows) {
    std::vector<float> lanes_of_row(row.size() * lanes);  // [vectors][lanes]
    for (std::size_t v = 0; v < row.size(); ++v) {
      const std::vector<std::uint8_t> bytes = read_vector(row[v].slice, row[v].addr);
      std::memcpy(&lanes_of_row[v * lanes], bytes.data(), lanes * 4);
    }
    std::vector<float> values(width);
    if (p.heads == 0) {
      std::copy_n(lanes_of_row.begin(), width, values.begin());
    } else {
      for (std::int64_t h = 0; h < p.heads; ++h)
        for (int half = 0; half < 2; ++half)
          for (std::int64_t i = 0; i < hd / 2; ++i)
            values[static_cast<std::size_t>(h * hd + head_dim_at(config_, half, i))] =
                lanes_of_row[static_cast<std::size_t>(2 * h + half) * lanes + static_cast<std::size_t>(i)];
    }
    out.insert(out.end(), values.begin(), values.end());
  }
  return out;
}

}  // namespace lockstep::compiler
