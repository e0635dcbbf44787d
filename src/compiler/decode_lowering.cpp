#include "compiler/decode_lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"
#include "compiler/step_lowering.h"
#include "graph/step_graph.h"

namespace lockstep::lpu {
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
  const graph::Graph graph = graph::build_step_graph(
      c, {.n_tokens = rows_, .position = 0, .logits_every_row = true}, graph::WeightTypes{});
  StepLowering lowering(c, model, system, options, st, program_, context_, rows_);
  placement_ = lowering.placement();
  vocab_first_ = lowering.vocab_first();
  vocab_rows_ = lowering.vocab_rows();
  token_first_ = lowering.token_first();
  const bool body = lowering.receive_input();
  forward_sends_ = lowering.forward_sends();
  input_ready_ = lowering.input_ready();
  if (!body) return;
  lowering.lower(graph);
  output_sends_ = lowering.output_sends();
  logits_stride_ = lowering.logits_stride();
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

std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> DecodeProgram::inputs(
    std::span<const std::int32_t> tokens, std::int64_t pos) const {
  return decode_inputs(config_, chip_, program_.buffers, rows_, context_, token_first_, tokens, pos);
}

std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> decode_inputs(
    const model::ModelConfig& config, const ChipConfig& chip, const std::vector<HostBuffer>& buffers,
    std::uint32_t rows, std::int64_t context, std::int64_t vocab_first,
    std::span<const std::int32_t> tokens, std::int64_t pos) {
  if (tokens.size() != rows)
    fail("this program takes {} tokens per run, given {}", rows, tokens.size());
  if (pos < 0 || pos + static_cast<std::int64_t>(rows) > context)
    fail("positions {}..{} are outside the compiled context of {} tokens", pos,
         pos + static_cast<std::int64_t>(rows) - 1, context);
  for (std::int32_t token : tokens)
    if (token < 0 || token >= config.n_vocab)
      fail("token {} is outside the vocabulary of {} tokens", token, config.n_vocab);
  const int lanes = chip.fp32_lanes();
  const std::size_t vb = chip.vector_bytes;
  std::vector<std::pair<HostBuffer, std::vector<std::uint8_t>>> out;
  for (const HostBuffer& b : buffers) {
    if (!b.is_input) continue;
    std::vector<std::uint8_t> bytes(std::size_t{b.vectors} * vb, 0);
    const std::uint32_t per_row = b.vectors / rows;  // vectors of one row
    for (std::uint32_t t = 0; t < rows; ++t) {
      std::uint8_t* row = bytes.data() + std::size_t{t} * per_row * vb;
      const std::int64_t p = pos + t;
      auto put_i32 = [&](std::int32_t v) { std::memcpy(row, &v, 4); };
      auto put_f32 = [&](std::size_t lane, float v) { std::memcpy(row + 4 * lane, &v, 4); };
      if (b.name == "token") put_i32(static_cast<std::int32_t>(tokens[t] - vocab_first));
      else if (b.name == "position") put_i32(static_cast<std::int32_t>(p));
      else if (b.name == "position.block") put_i32(static_cast<std::int32_t>(p / lanes));
      else if (b.name == "position.lane") put_f32(static_cast<std::size_t>(p % lanes), 1.0f);
      else if (b.name == "rope.cos" || b.name == "rope.sin") {
        // As reference::apply_rope computes them: theta in double, rounded to float once.
        const std::int64_t d = config.head_dim;
        for (std::int64_t i = 0; i < d / 2; ++i) {
          const double theta = model::rope_angle(config, p, i);
          put_f32(static_cast<std::size_t>(i),
                  static_cast<float>(b.name == "rope.cos" ? std::cos(theta) : std::sin(theta)));
        }
      } else if (b.name == "mask") {
        // Causal: row t sees positions up to its own.
        for (std::int64_t j = 0; j < std::int64_t{per_row} * lanes; ++j)
          put_f32(static_cast<std::size_t>(j), j <= p ? 0.0f : -INFINITY);
      } else {
        fail("internal error: no input named {}", b.name);
      }
    }
    out.push_back({b, std::move(bytes)});
  }
  return out;
}

std::vector<float> DecodeProgram::logits(
    const std::function<std::vector<std::uint8_t>(const HostBuffer&)>& read) const {
  return decode_logits(program_.buffers, rows_, vocab_rows_, logits_stride_, chip_.fp32_lanes(), read);
}

std::vector<float> decode_logits(const std::vector<HostBuffer>& buffers, std::uint32_t rows,
                                 std::int64_t vocab_rows, std::uint32_t logits_stride, int fp32_lanes,
                                 const std::function<std::vector<std::uint8_t>(const HostBuffer&)>& read) {
  const std::size_t n_vocab = static_cast<std::size_t>(vocab_rows);
  std::vector<float> out(n_vocab * rows, 0.0f);
  const std::uint32_t lanes = static_cast<std::uint32_t>(fp32_lanes);
  for (const HostBuffer& b : buffers) {
    if (b.is_input) continue;
    const std::uint32_t s = static_cast<std::uint32_t>(std::stoi(b.name.substr(b.name.find('.') + 1)));
    const std::vector<std::uint8_t> bytes = read(b);
    // Stripe s holds vectors u = 4k + s; vector u is row u / stride, vector u % stride of it.
    for (std::uint32_t k = 0; k < b.vectors; ++k) {
      const std::uint32_t u = 4 * k + s;
      const std::uint32_t t = u / logits_stride, v = u % logits_stride;
      for (std::uint32_t l = 0; l < lanes; ++l) {
        const std::size_t e = std::size_t{v} * lanes + l;
        if (e < n_vocab)
          std::memcpy(&out[t * n_vocab + e], &bytes[(std::size_t{k} * lanes + l) * 4], 4);
      }
    }
  }
  return out;
}

}  // namespace lockstep::lpu
