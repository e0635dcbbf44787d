#include "lpu/program/host_interface.h"

#include <cmath>
#include <cstring>
#include <string_view>

#include "core/error.h"

namespace lockstep::lpu {
namespace {

constexpr const char* kRoleNames[kHostRoleCount] = {
    "",         "token",    "position", "position.block", "position.lane",
    "rope.cos", "rope.sin", "mask",     "logits"};

int element_bytes(ElementType type) {
  switch (type) {
    case ElementType::F16: return 2;
    case ElementType::I8: return 1;
    default: return 4;
  }
}

// The element type and vectors per row an input role takes (0: any count, at least 1).
struct InputShape {
  ElementType type;
  std::uint32_t per_row;
};
InputShape input_shape(HostRole role) {
  switch (role) {
    case HostRole::TokenId:
    case HostRole::Position:
    case HostRole::PositionBlock: return {ElementType::I32, 1};
    case HostRole::PositionLane:
    case HostRole::RopeCos:
    case HostRole::RopeSin: return {ElementType::F32, 1};
    default: return {ElementType::F32, 0};  // AttentionMask: `blocks` vectors per row
  }
}

void check_logits(const Program& program) {
  const HostInterface& h = program.host;
  if (h.vocab_rows == 0) return;
  if (h.logits_stripes == 0 || h.logits_stride == 0 ||
      std::uint64_t{h.logits_stride} * h.lanes < static_cast<std::uint64_t>(h.vocab_rows))
    fail("the program's logits layout ({} columns, {} vectors a row, {} stripes) is inconsistent",
         h.vocab_rows, h.logits_stride, h.logits_stripes);
  std::uint64_t buffers = 0;
  for (const HostBuffer& b : program.buffers) buffers += b.role == HostRole::LogitsStripe ? 1 : 0;
  if (buffers != h.logits_stripes)
    fail("the program's logits are in {} stripes but {} buffers", h.logits_stripes, buffers);
  // Stripe s holds the vectors u = stripes * k + s of rows x stride.
  const std::uint64_t total = std::uint64_t{h.rows} * h.logits_stride;
  std::vector<bool> seen(h.logits_stripes, false);
  for (const HostBuffer& b : program.buffers) {
    if (b.role != HostRole::LogitsStripe) continue;
    if (b.stripe >= h.logits_stripes || seen[b.stripe])
      fail("logits buffer '{}' has stripe {}, not a new one of the {}", b.name, b.stripe,
           h.logits_stripes);
    seen[b.stripe] = true;
    const std::uint64_t want = total / h.logits_stripes + (b.stripe < total % h.logits_stripes ? 1 : 0);
    if (b.vectors != want)
      fail("logits buffer '{}' holds {} vectors, its stripe of the logits {}", b.name, b.vectors, want);
  }
  for (std::uint32_t s = 0; s < h.logits_stripes; ++s)
    if (!seen[s]) fail("the program's logits have no buffer for stripe {}", s);
}

// angle(pos, i) as HostRope states it (the same operations as model::rope_angle).
double rope_angle(const HostRope& rope, std::int64_t pos, std::int64_t i) {
  const double position = static_cast<double>(pos) / rope.linear_scale;
  double theta = position * std::pow(rope.theta, -2.0 * i / rope.head_dim);
  if (!rope.freq_factors.empty()) theta /= rope.freq_factors[i];
  return theta;
}

}  // namespace

bool is_model_step(const Program& program) { return program.host.rows > 0; }

const char* host_role_name(HostRole role) {
  const int r = static_cast<int>(role);
  return r < kHostRoleCount ? kRoleNames[r] : "?";
}

HostRole host_role_from_name(std::string_view name) {
  for (int r = 1; r < kHostRoleCount; ++r)
    if (name == kRoleNames[r]) return static_cast<HostRole>(r);
  return HostRole::Unspecified;
}

void check_host_interface(const Program& program) {
  const HostInterface& h = program.host;
  for (const HostBuffer& b : program.buffers)
    if (static_cast<int>(b.role) >= kHostRoleCount)
      fail("host buffer '{}' has role {}, which does not exist (0 to {})", b.name,
           static_cast<int>(b.role), kHostRoleCount - 1);
  if (h.rows == 0) {
    for (const HostBuffer& b : program.buffers)
      if (b.role != HostRole::Unspecified)
        fail("host buffer '{}' has role '{}', but the program is not a model step (no rows)", b.name,
             host_role_name(b.role));
    return;
  }
  if (h.lanes == 0 || std::uint64_t{h.lanes} * 4 > h.vector_bytes)
    fail("the program's host interface has {} lanes in {}-byte vectors", h.lanes, h.vector_bytes);
  if (h.context < h.rows || h.n_vocab < 1 || h.vocab_rows < 0)
    fail("the program's host interface is inconsistent: {} rows, context {}, vocabulary {}", h.rows,
         h.context, h.n_vocab);
  const HostRope& rope = h.rope;
  if (rope.head_dim < 2 || rope.head_dim / 2 > h.lanes || !(rope.linear_scale > 0) ||
      !(rope.theta > 0) ||
      (!rope.freq_factors.empty() && std::ssize(rope.freq_factors) != rope.head_dim / 2))
    fail("the program's RoPE parameters (head_dim {}, theta {}, scale {}, {} factors) do not fit "
         "its {}-lane vectors", rope.head_dim, rope.theta, rope.linear_scale,
         rope.freq_factors.size(), h.lanes);
  for (const HostBuffer& b : program.buffers) {
    if (b.role == HostRole::Unspecified)
      fail("host buffer '{}' of a model step has no role", b.name);
    const bool output = b.role == HostRole::LogitsStripe;
    if (b.is_input == output)
      fail("host buffer '{}' is an {}, but role '{}' is an {}", b.name, b.is_input ? "input" : "output",
           host_role_name(b.role), output ? "output" : "input");
    if (output) {
      if (b.type != ElementType::F32) fail("logits buffer '{}' is not f32", b.name);
      continue;
    }
    const InputShape shape = input_shape(b.role);
    if (b.type != shape.type || b.vectors == 0 || b.vectors % h.rows != 0 ||
        (shape.per_row != 0 && b.vectors != shape.per_row * h.rows))
      fail("input buffer '{}' ({} vectors of {}) does not fit role '{}' for {} rows", b.name, b.vectors,
           element_bytes(b.type), host_role_name(b.role), h.rows);
  }
  check_logits(program);
}

HostInputs fill_inputs(const Program& program, std::span<const std::int32_t> tokens,
                       std::int64_t pos) {
  return fill_inputs(program, program.host.shard, tokens, pos);
}

HostInputs fill_inputs(const Program& program, const HostShard& shard,
                       std::span<const std::int32_t> tokens, std::int64_t pos) {
  const HostInterface& h = program.host;
  if (h.rows == 0) fail("the program is not a model step: it records no host interface to fill");
  check_host_interface(program);
  const std::uint32_t rows = h.rows;
  if (tokens.size() != rows)
    fail("this program takes {} tokens per run, given {}", rows, tokens.size());
  if (pos < 0 || pos + static_cast<std::int64_t>(rows) > h.context)
    fail("positions {}..{} are outside the compiled context of {} tokens", pos,
         pos + static_cast<std::int64_t>(rows) - 1, h.context);
  for (std::int32_t token : tokens)
    if (token < 0 || token >= h.n_vocab)
      fail("token {} is outside the vocabulary of {} tokens", token, h.n_vocab);
  const std::int64_t lanes = h.lanes;
  const std::size_t vb = h.vector_bytes;
  HostInputs out;
  for (const HostBuffer& b : program.buffers) {
    if (!b.is_input) continue;
    std::vector<std::uint8_t> bytes(std::size_t{b.vectors} * vb, 0);
    const std::uint32_t per_row = b.vectors / rows;  // vectors of one row
    for (std::uint32_t t = 0; t < rows; ++t) {
      std::uint8_t* row = bytes.data() + std::size_t{t} * per_row * vb;
      const std::int64_t p = pos + t;
      auto put_i32 = [&](std::int32_t v) { std::memcpy(row, &v, 4); };
      // Lane j of the row's vectors (j < per_row * lanes): vector j / lanes, lane j % lanes.
      auto put_f32 = [&](std::int64_t j, float v) {
        std::memcpy(row + std::size_t(j / lanes) * vb + 4 * std::size_t(j % lanes), &v, 4);
      };
      switch (b.role) {
        case HostRole::TokenId: put_i32(static_cast<std::int32_t>(tokens[t] - shard.token_first)); break;
        case HostRole::Position: put_i32(static_cast<std::int32_t>(p)); break;
        case HostRole::PositionBlock: put_i32(static_cast<std::int32_t>(p / lanes)); break;
        case HostRole::PositionLane: put_f32(p % lanes, 1.0f); break;
        case HostRole::RopeCos:
        case HostRole::RopeSin:
          // As reference::apply_rope computes them: theta in double, rounded to float once.
          for (std::int64_t i = 0; i < h.rope.head_dim / 2; ++i) {
            const double theta = rope_angle(h.rope, p, i);
            put_f32(i, static_cast<float>(b.role == HostRole::RopeCos ? std::cos(theta) : std::sin(theta)));
          }
          break;
        case HostRole::AttentionMask:
          // Causal: row t sees positions up to its own.
          for (std::int64_t j = 0; j < std::int64_t{per_row} * lanes; ++j) put_f32(j, j <= p ? 0.0f : -INFINITY);
          break;
        default: fail("internal error: input buffer '{}' has no input role", b.name);
      }
    }
    out.push_back({b, std::move(bytes)});
  }
  return out;
}

std::vector<float> read_logits(const Program& program, const ReadBuffer& read) {
  const HostInterface& h = program.host;
  if (h.rows == 0 || h.vocab_rows == 0) fail("the program computes no logits");
  check_host_interface(program);
  const std::size_t n_vocab = static_cast<std::size_t>(h.vocab_rows);
  const std::uint32_t lanes = h.lanes, stripes = h.logits_stripes;
  std::vector<float> out(n_vocab * h.rows, 0.0f);
  for (const HostBuffer& b : program.buffers) {
    if (b.role != HostRole::LogitsStripe) continue;
    const std::vector<std::uint8_t> bytes = read(b);
    if (bytes.size() < std::size_t{b.vectors} * h.vector_bytes)
      fail("logits buffer '{}' read back {} bytes, not {}", b.name, bytes.size(),
           std::size_t{b.vectors} * h.vector_bytes);
    // Stripe s holds vectors u = stripes * k + s; vector u is row u / stride, vector u % stride of it.
    for (std::uint32_t k = 0; k < b.vectors; ++k) {
      const std::uint32_t u = stripes * k + b.stripe;
      const std::uint32_t t = u / h.logits_stride, v = u % h.logits_stride;
      for (std::uint32_t l = 0; l < lanes; ++l) {
        const std::size_t e = std::size_t{v} * lanes + l;
        if (e < n_vocab)
          std::memcpy(&out[t * n_vocab + e], &bytes[std::size_t{k} * h.vector_bytes + 4 * std::size_t{l}], 4);
      }
    }
  }
  return out;
}

HostInputs fill_chip_inputs(const SystemProgram& program, std::size_t index,
                            std::span<const std::int32_t> tokens, std::int64_t pos) {
  if (index >= program.chips.size())
    fail("chip {} is not one of the system program's {}", index, program.chips.size());
  const ChipAssignment& a = program.chips[index];
  return fill_inputs(program.programs.at(static_cast<std::size_t>(a.program)), a.host, tokens, pos);
}

std::vector<float> read_system_logits(const SystemProgram& program, const ReadChipBuffer& read) {
  if (program.programs.empty()) fail("the system program has no chip programs");
  const HostInterface& first = program.programs.front().host;
  const std::size_t n_vocab = static_cast<std::size_t>(first.n_vocab);
  std::vector<float> out(n_vocab * first.rows, 0.0f);
  for (std::size_t i = 0; i < program.chips.size(); ++i) {
    const ChipAssignment& a = program.chips[i];
    const Program& p = program.programs.at(static_cast<std::size_t>(a.program));
    if (p.host.vocab_rows == 0) continue;
    const std::vector<float> part = read_logits(p, [&](const HostBuffer& b) { return read(i, b); });
    const std::int64_t vocab_rows = p.host.vocab_rows;
    for (std::uint32_t t = 0; t < first.rows; ++t)
      for (std::int64_t j = 0; j < vocab_rows && a.host.vocab_first + j < first.n_vocab; ++j)
        out[t * n_vocab + static_cast<std::size_t>(a.host.vocab_first + j)] =
            part[t * static_cast<std::size_t>(vocab_rows) + static_cast<std::size_t>(j)];
  }
  return out;
}

}  // namespace lockstep::lpu
