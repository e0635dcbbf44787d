// Running a CPU plan: every member walks the same step list, does its share of each step and
// meets the others at the barriers the lowering placed. Token-wise steps split the rows (or
// rows x heads) evenly; matmuls use the output-row split fixed at lowering.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "cpu/elementwise.h"
#include "numerics/row_ops.h"
#include "cpu/plan.h"
#include "format/tensor_view.h"

namespace lockstep::cpu {
namespace {

struct RunContext {
  Plan* plan;
  ThreadTeam* team;
  const PlanRow* rows;
  std::int64_t n;
  std::int64_t first_logit_row;
  float* logits;
};

struct Range {
  std::int64_t begin, end;
};

// Member m's share of items [first, last).
Range share(std::int64_t first, std::int64_t last, int member, int members) {
  const std::int64_t count = last - first;
  return {first + count * member / members, first + count * (member + 1) / members};
}

float* f32_row(const Arena& arena, const RowBuffer& b, std::int64_t t) {
  return reinterpret_cast<float*>(arena.at(b.offset + static_cast<std::size_t>(t) * b.row_bytes));
}

void run_step(const RunContext& r, const Step& s, int member) {
  const Plan& p = *r.plan;
  const Arena& arena = *p.arena;
  const auto& c = p.config;
  const int members = r.team->size();
  const std::int64_t first = s.logit_rows_only ? r.first_logit_row : 0;
  const std::int64_t d = c.head_dim;
  const auto* vector = reinterpret_cast<const float*>(arena.at(s.vector));
  auto cache_row = [&](bool keys, std::int32_t slot, std::int64_t layer, std::int64_t kv_head,
                       std::int64_t position) {
    const std::size_t base = (keys ? p.key_cache : p.value_cache) +
                             static_cast<std::size_t>(slot) * p.slot_cache_bytes;
    const std::size_t index =
        static_cast<std::size_t>(((layer * c.n_head_kv + kv_head) * p.options.n_ctx + position) * d);
    return reinterpret_cast<std::uint16_t*>(arena.at(base)) + index;
  };

  switch (s.kind) {
    case StepKind::Embed: {
      const Range rows = share(first, r.n, member, members);
      for (std::int64_t t = rows.begin; t < rows.end; ++t)
        model::dequantize_tensor_row(p.token_embd, static_cast<std::uint64_t>(r.rows[t].token),
                                     std::span<float>(f32_row(arena, s.out, t),
                                                      static_cast<std::size_t>(c.n_embd)));
      break;
    }
    case StepKind::RmsNorm: {
      const Range rows = share(first, r.n, member, members);
      for (std::int64_t t = rows.begin; t < rows.end; ++t)
        numerics::rms_norm_row(f32_row(arena, s.in, t), vector, f32_row(arena, s.out, t), s.width, c.rms_eps);
      break;
    }
    case StepKind::HeadNorm: {
      const Range items = share(first * s.heads, r.n * s.heads, member, members);
      for (std::int64_t i = items.begin; i < items.end; ++i) {
        float* head = f32_row(arena, s.in, i / s.heads) + (i % s.heads) * d;
        numerics::rms_norm_row(head, vector, head, d, c.rms_eps);
      }
      break;
    }
    case StepKind::Rope: {
      const Range items = share(first * s.heads, r.n * s.heads, member, members);
      const auto* table = reinterpret_cast<const float*>(arena.at(p.rope_table));
      const bool adjacent = c.rope_style == model::RopeStyle::AdjacentPairs;
      for (std::int64_t i = items.begin; i < items.end; ++i) {
        const std::int64_t t = i / s.heads;
        rope_row(f32_row(arena, s.in, t) + (i % s.heads) * d, 1, d, table + r.rows[t].position * d,
                 adjacent);
      }
      break;
    }
    case StepKind::Prepare: {
      const Range rows = share(first, r.n, member, members);
      const auto& kernel = *p.matrices[static_cast<std::size_t>(s.matrix)].kernel;
      for (std::int64_t t = rows.begin; t < rows.end; ++t)
        kernel.prepare_activation(f32_row(arena, s.in, t),
                                  arena.at(s.out.offset + static_cast<std::size_t>(t) * s.out.row_bytes),
                                  s.width);
      break;
    }
    case StepKind::MatMul: {
      const auto& m = p.matrices[static_cast<std::size_t>(s.matrix)];
      const std::int64_t begin = s.row_split[static_cast<std::size_t>(member)];
      const std::int64_t end = s.row_split[static_cast<std::size_t>(member) + 1];
      if (begin >= end) break;
      float* y = s.to_logits ? r.logits : f32_row(arena, s.out, first);
      const std::size_t y_stride =
          s.to_logits ? static_cast<std::size_t>(c.n_vocab) : s.out.row_bytes / sizeof(float);
      m.kernel->matmul(m.packed, arena.at(s.in.offset + static_cast<std::size_t>(first) * s.in.row_bytes),
                       s.in.row_bytes, y, y_stride, r.n - first, begin, end);
      break;
    }
    case StepKind::BiasAdd: {
      const Range rows = share(first, r.n, member, members);
      for (std::int64_t t = rows.begin; t < rows.end; ++t)
        add_row(f32_row(arena, s.in, t), vector, f32_row(arena, s.out, t), s.width);
      break;
    }
    case StepKind::KvAppend: {
      const std::int64_t heads = s.width / d;
      const Range items = share(first * heads, r.n * heads, member, members);
      for (std::int64_t i = items.begin; i < items.end; ++i) {
        const std::int64_t t = i / heads, h = i % heads;
        p.vectors->fp32_to_fp16(f32_row(arena, s.in, t) + h * d,
                                cache_row(s.keys, r.rows[t].slot, s.layer, h, r.rows[t].position), d);
      }
      break;
    }
    case StepKind::Attention: {
      const std::int64_t heads = c.n_head, group = c.n_head / c.n_head_kv;
      const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
      float* scores = reinterpret_cast<float*>(arena.at(p.scores)) +
                      static_cast<std::size_t>(member) *
                          ((static_cast<std::size_t>(p.options.n_ctx) * 4 + 63) / 64 * 16);
      // Later tokens attend over more positions: members take every members-th (token, head)
      // item so each gets a like share of short and long ones.
      for (std::int64_t i = first * heads + member; i < r.n * heads; i += members) {
        const std::int64_t t = i / heads, h = i % heads, kv_head = h / group;
        const std::int64_t seen = r.rows[t].position + 1;
        const std::int32_t slot = r.rows[t].slot;
        const float* q = f32_row(arena, s.in, t) + h * d;
        p.vectors->dot_fp16_rows(q, cache_row(true, slot, s.layer, kv_head, 0), static_cast<std::size_t>(d),
                                 d, seen, scale, scores);
        numerics::softmax_row(scores, seen);
        p.vectors->weighted_sum_fp16_rows(scores, cache_row(false, slot, s.layer, kv_head, 0),
                                          static_cast<std::size_t>(d), d, seen,
                                          f32_row(arena, s.out, t) + h * d);
      }
      break;
    }
    case StepKind::Copy: {
      const Range rows = share(first, r.n, member, members);
      for (std::int64_t t = rows.begin; t < rows.end; ++t)
        std::memcpy(f32_row(arena, s.out, t), f32_row(arena, s.in, t), static_cast<std::size_t>(s.width) * 4);
      break;
    }
    case StepKind::Add:
    case StepKind::SwiGlu: {
      const Range rows = share(first, r.n, member, members);
      for (std::int64_t t = rows.begin; t < rows.end; ++t) {
        if (s.kind == StepKind::Add)
          add_row(f32_row(arena, s.in, t), f32_row(arena, s.in2, t), f32_row(arena, s.out, t), s.width);
        else
          numerics::swiglu_row(f32_row(arena, s.in, t), f32_row(arena, s.in2, t), f32_row(arena, s.out, t), s.width);
      }
      break;
    }
  }
}

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void run_member(void* context, int member) {
  const auto& r = *static_cast<const RunContext*>(context);
  auto& profile = r.plan->profile;
  if (member != 0 || profile.empty()) {
    for (const Step& s : r.plan->steps) {
      if (s.barrier_before) r.team->barrier();
      run_step(r, s, member);
    }
    return;
  }
  const std::size_t steps = r.plan->steps.size();
  for (std::size_t i = 0; i < steps; ++i) {
    const Step& s = r.plan->steps[i];
    const double t0 = seconds_now();
    if (s.barrier_before) r.team->barrier();
    const double t1 = seconds_now();
    run_step(r, s, member);
    profile[steps] += t1 - t0;
    profile[i] += seconds_now() - t1;
  }
}

const char* step_kind_name(StepKind kind) {
  switch (kind) {
    case StepKind::Embed: return "embedding";
    case StepKind::RmsNorm: return "rms_norm";
    case StepKind::HeadNorm: return "head_norm";
    case StepKind::Prepare: return "prepare (quantize activations)";
    case StepKind::MatMul: return "matmul";
    case StepKind::BiasAdd: return "bias_add";
    case StepKind::Rope: return "rope";
    case StepKind::KvAppend: return "kv_append";
    case StepKind::Attention: return "attention";
    case StepKind::Add: return "add";
    case StepKind::SwiGlu: return "swiglu";
    case StepKind::Copy: return "copy (probe)";
  }
  return "?";
}

}  // namespace

void copy_kv_prefix(Plan& plan, int from, int to, std::int64_t n) {
  if (from == to || n == 0) return;
  const auto& c = plan.config;
  // The cache layout: [n_slots][n_layer][n_head_kv][n_ctx][head_dim] fp16 (plan.h).
  const std::size_t row_bytes = static_cast<std::size_t>(c.head_dim) * 2;
  const std::size_t head_bytes = static_cast<std::size_t>(plan.options.n_ctx) * row_bytes;
  for (const std::size_t base : {plan.key_cache, plan.value_cache})
    for (std::int64_t head = 0; head < c.n_layer * c.n_head_kv; ++head) {
      const std::size_t offset = static_cast<std::size_t>(head) * head_bytes;
      std::memcpy(plan.arena->at(base + static_cast<std::size_t>(to) * plan.slot_cache_bytes + offset),
                  plan.arena->at(base + static_cast<std::size_t>(from) * plan.slot_cache_bytes + offset),
                  static_cast<std::size_t>(n) * row_bytes);
    }
}

std::vector<float> read_probe(const Plan& plan, const std::string& tensor, std::int64_t first,
                              std::int64_t n) {
  auto it = plan.probes.find(tensor);
  if (it == plan.probes.end())
    fail("the CPU plan keeps no tensor named '{}' (lower it with PlanOptions::probe)", tensor);
  const Plan::Probe& p = it->second;
  std::vector<float> out;
  for (std::int64_t t = first; t < n; ++t) {
    const float* row = f32_row(*plan.arena, p.rows, t);
    out.insert(out.end(), row, row + p.width);
  }
  return out;
}

std::string profile_report(const Plan& plan) {
  if (plan.profile.empty()) return {};
  std::map<std::string, double> by_kind;
  for (std::size_t i = 0; i < plan.steps.size(); ++i)
    by_kind[step_kind_name(plan.steps[i].kind)] += plan.profile[i];
  by_kind["waiting at barriers"] += plan.profile.back();
  double total = 0;
  for (const auto& [name, seconds] : by_kind) total += seconds;
  std::vector<std::pair<double, std::string>> rows;
  for (const auto& [name, seconds] : by_kind) rows.push_back({seconds, name});
  std::sort(rows.rbegin(), rows.rend());
  std::string text = fmt::format("CPU plan profile (member 0 of {}, {:.3f} s):\n", plan.options.threads, total);
  for (const auto& [seconds, name] : rows)
    text += fmt::format("  {:<32} {:9.3f} s {:5.1f}%\n", name, seconds, 100 * seconds / total);
  return text;
}

void run_plan(Plan& plan, ThreadTeam& team, const PlanRow* rows, std::int64_t n,
              std::int64_t first_logit_row, float* logits) {
  RunContext context{&plan, &team, rows, n, first_logit_row, logits};
  team.run(run_member, &context);
}

}  // namespace lockstep::cpu
