#include "compiler/partition_planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "compiler/model_footprint.h"
#include "core/error.h"

namespace lockstep::compiler {
namespace {

std::string mb(double bytes) { return fmt::format("{:.1f} MB", bytes / 1e6); }

// What one chip of a stage holds of each unit, in vectors: MXM weights, which must sit in the
// slices that feed the MXM planes, and everything (weights, KV cache, norms), which must fit the
// chip. The first stage adds the embedding units (anywhere), the last the LM head (MXM weights).
struct Load {
  std::uint64_t weights = 0, total = 0;
  Load& operator+=(const Load& o) {
    weights += o.weights;
    total += o.total;
    return *this;
  }
};

struct UnitCosts {
  std::vector<Load> unit;  // [E + (1 + K) * n_layer]: E embedding parts, then the layers
  Load first_extra, last_extra;
};

UnitCosts unit_costs(const model::ModelConfig& c, const ChipConfig& chip, const compiler::PrecisionPolicy& weights,
                     std::int64_t context, int P, int K, int E) {
  const ModelParts parts = model_parts(c, chip, weights, context, P);
  const double attention = double(c.n_embd) * double(c.q_dim() + 2 * c.n_head_kv * c.head_dim) +
                           double(c.q_dim()) * double(c.n_embd);
  const double ffn = 3.0 * double(c.n_embd) * double(c.n_ff);
  const double share = attention / (attention + ffn);
  UnitCosts u;
  const std::uint64_t vocab = static_cast<std::uint64_t>((c.n_vocab + P - 1) / P);
  const std::uint64_t part = static_cast<std::uint64_t>((c.n_vocab + std::int64_t{E} * P - 1) / (std::int64_t{E} * P));
  for (int e = 0; e < E; ++e) u.unit.push_back({0, embedding_vectors(c, chip, part)});
  for (std::int64_t l = 0; l < c.n_layer; ++l) {
    const auto a = static_cast<std::uint64_t>(double(parts.layer_weights) * share);
    u.unit.push_back({a, a + parts.layer_kv + parts.layer_norms / 2});
    for (int k = 0; k < K; ++k) {
      const auto f = static_cast<std::uint64_t>(double(parts.layer_weights) * (1 - share) / K);
      u.unit.push_back({f, f + parts.layer_norms / 2 / K});
    }
  }
  const std::uint64_t head = lm_head_vectors(c, chip, weights, vocab);
  u.last_extra = {head, head + parts.final_norm};
  return u;
}

// A chip's capacities, vectors: the MXM-feeding slices for weights (less what whole blocks
// waste), and the whole SRAM less kSramHeadroom; both times `fill`.
struct Capacity {
  double weights = 0, total = 0;
};

Capacity chip_capacity(const ChipConfig& chip, double fill) {
  const double slice = double(chip.banks_per_slice) * chip.vectors_per_bank;
  const double planes = 2.0 * chip.mxm_planes_per_hemisphere;
  // (Evaluated in the order SystemDecode always did, so that the cuts stay bit for bit.)
  Capacity c{0.9 * planes * chip.mxm_load_streams * slice,
             (1 - kSramHeadroom) * double(chip.sram_bytes()) / chip.vector_bytes};
  c.weights *= fill;
  c.total *= fill;
  return c;
}

Load stage_sum(const UnitCosts& u, int lo, int hi) {
  Load sum;
  for (int i = lo; i < hi; ++i) sum += u.unit[i];
  if (lo == 0) sum += u.first_extra;
  if (hi == static_cast<int>(u.unit.size())) sum += u.last_extra;
  return sum;
}

// The load of units [lo, hi) as a fraction of the chip: the larger of weights and total.
double stage_load(const UnitCosts& u, const Capacity& cap, int lo, int hi) {
  const Load sum = stage_sum(u, lo, hi);
  return std::max(double(sum.weights) / cap.weights, double(sum.total) / cap.total);
}

// Cuts the units into `stages` contiguous non-empty runs minimising the largest stage load
// (bisection on the bound, greedy fill), then spreads them as evenly as that bound allows (a
// stage takes its share of the units left, so late stages are not left nearly empty). Returns
// the first unit of every stage and the load.
std::pair<std::vector<int>, double> balance_units(const UnitCosts& u, const Capacity& cap, int stages) {
  const int n = static_cast<int>(u.unit.size());
  // An additive stand-in for a unit's load, for the even spread: its share of both capacities.
  auto size = [&](const Load& l) { return double(l.weights) / cap.weights + double(l.total) / cap.total; };
  std::vector<double> after(static_cast<std::size_t>(n) + 1, size(u.last_extra));  // [i] units i.. n-1
  for (int i = n - 1; i >= 0; --i) after[i] = after[i + 1] + size(u.unit[i]);
  auto cut = [&](double bound, std::vector<int>* firsts, bool even) {
    int lo = 0;
    for (int s = 0; s < stages; ++s) {
      if (firsts) firsts->push_back(lo);
      const int left = stages - s - 1;  // stages after this one, each needing a unit
      const double share = (after[lo] + (lo == 0 ? size(u.first_extra) : 0)) / (stages - s);
      double taken = (lo == 0 ? size(u.first_extra) : 0) + size(u.unit[lo]);
      int hi = lo + 1;
      if (hi > n - left) return false;
      while (hi < n - left && (!even || taken + size(u.unit[hi]) / 2 <= share) &&
             stage_load(u, cap, lo, hi + 1) <= bound)
        taken += size(u.unit[hi++]);
      if (s + 1 == stages) hi = n;
      if (stage_load(u, cap, lo, hi) > bound) return false;
      lo = hi;
    }
    return true;
  };
  double lo = 0, hi = stage_load(u, cap, 0, n);
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    if (cut(mid, nullptr, false)) hi = mid;
    else lo = mid;
  }
  std::vector<int> firsts;
  if (!cut(hi, &firsts, true)) {
    firsts.clear();
    cut(hi, &firsts, false);
  }
  return {firsts, hi};
}

// One candidate partition: P, E, K, S and the cuts.
struct Shape {
  int P = 1, E = 1, K = 1, S = 1;
  std::vector<int> firsts;
  double load = 0;
  bool units_bound = false;  // S was cut down to the number of units
  std::int64_t chips() const { return std::int64_t{S} * P; }
};

class Planner {
 public:
  Planner(const model::ModelConfig& c, const ChipConfig& chip, const compiler::PrecisionPolicy& w, std::int64_t context,
          const PartitionRequest& r)
      : c_(c), chip_(chip), w_(w), context_(context), r_(r), cap_(chip_capacity(chip, r.fill)) {}

  const Capacity& capacity() const { return cap_; }
  int units(int E, int K) const { return E + static_cast<int>((1 + K) * c_.n_layer); }

  // E: the request's, else doubled while one stage's share of the embedding would take most of
  // a chip (a 128k-token vocabulary at 8192 wide is 263 MB per chip of 8).
  int embedding_parts(int P) const {
    int E = r_.embedding_parts > 0 ? r_.embedding_parts : 1;
    while (r_.embedding_parts == 0 && E < 8 &&
           double(embedding_vectors(c_, chip_,
                                    static_cast<std::uint64_t>((c_.n_vocab + std::int64_t{E} * P - 1) /
                                                               (std::int64_t{E} * P)))) > 0.6 * cap_.total)
      E *= 2;
    return E;
  }

  // The compiler's K rule at S stages (at most one stage per unit): the fewest K whose balanced
  // stages fit, else the largest (or the request's).
  Shape at(int P, int S) const {
    Shape sh;
    sh.P = P;
    sh.E = embedding_parts(P);
    for (sh.K = r_.ffn_parts > 0 ? r_.ffn_parts : 1;; sh.K *= 2) {
      const UnitCosts costs = unit_costs(c_, chip_, w_, context_, P, sh.K, sh.E);
      sh.S = std::min(S, static_cast<int>(costs.unit.size()));
      sh.units_bound = sh.S < S;
      std::tie(sh.firsts, sh.load) = balance_units(costs, cap_, sh.S);
      if (sh.load <= 1 || sh.K == 4 || r_.ffn_parts > 0) break;
    }
    return sh;
  }

  // The load no stage count goes under with P chips each: 1, or more when the first stage's
  // embedding beside one unit, or the last stage's LM head beside one unit (the finest K),
  // exceeds a chip's estimate but not the chip itself (the estimate's margins: 90% of the MXM
  // slices, SRAM less kSramHeadroom). The compiler's placement decides such a stage.
  double floor_load(int P) const {
    const int E = embedding_parts(P);
    const UnitCosts costs = unit_costs(c_, chip_, w_, context_, P, r_.ffn_parts > 0 ? r_.ffn_parts : 4, E);
    const int n = static_cast<int>(costs.unit.size());
    double floor = 1.0;
    for (const auto& [lo, hi] : {std::pair{n - 1, n}, std::pair{0, 1}}) {
      const Load l = stage_sum(costs, lo, hi);
      if (double(l.weights) <= cap_.weights / 0.9 && double(l.total) <= cap_.total / (1 - kSramHeadroom))
        floor = std::max(floor, stage_load(costs, cap_, lo, hi));
    }
    return floor;
  }

  // The fewest stages whose load is at most floor_load(P) with P chips each, at most
  // max_stages; nothing when none is.
  std::optional<Shape> fewest(int P, int max_stages) const {
    const int E = embedding_parts(P);
    const double bound = floor_load(P) * (1 + 1e-9);
    std::optional<int> best;
    for (int K = r_.ffn_parts > 0 ? r_.ffn_parts : 1; K <= 4; K *= 2) {
      const UnitCosts costs = unit_costs(c_, chip_, w_, context_, P, K, E);
      const int n = std::min(max_stages, static_cast<int>(costs.unit.size()));
      if (balance_units(costs, cap_, n).second > bound) {
        if (r_.ffn_parts > 0) break;
        continue;
      }
      int lo = 1, hi = n;  // the load falls as S grows: the smallest S that fits
      while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (balance_units(costs, cap_, mid).second <= bound) hi = mid;
        else lo = mid + 1;
      }
      if (!best || lo < *best) best = lo;
      if (r_.ffn_parts > 0) break;
    }
    if (!best) return std::nullopt;
    return at(P, *best);
  }

  std::vector<StagePlan> stages(const Shape& sh) const {
    const UnitCosts costs = unit_costs(c_, chip_, w_, context_, sh.P, sh.K, sh.E);
    const int n = static_cast<int>(costs.unit.size());
    std::vector<StagePlan> out;
    for (int s = 0; s < sh.S; ++s) {
      StagePlan p;
      p.first_unit = sh.firsts[s];
      p.end_unit = s + 1 < sh.S ? sh.firsts[s + 1] : n;
      p.embedding = p.first_unit < sh.E;
      p.head = s + 1 == sh.S;
      const Load sum = stage_sum(costs, p.first_unit, p.end_unit);
      p.weight_bytes = sum.weights * chip_.vector_bytes;
      p.total_bytes = sum.total * chip_.vector_bytes;
      p.load = stage_load(costs, cap_, p.first_unit, p.end_unit);
      out.push_back(p);
    }
    return out;
  }

 private:
  const model::ModelConfig& c_;
  const ChipConfig& chip_;
  compiler::PrecisionPolicy w_;
  std::int64_t context_;
  const PartitionRequest& r_;
  Capacity cap_;
};

// P on a system of chips: the request's, else the node's chips (at most 8), halved until the
// query heads split evenly.
int node_parallel(const model::ModelConfig& c, const SystemTopology& t, const PartitionRequest& r) {
  if (r.tensor_parallel > 0) return r.tensor_parallel;
  int P = std::min(t.chips_per_node, kMaxTensorParallel);
  while (P > 1 && (c.n_head % P != 0 || (P & (P - 1)) != 0)) --P;
  return P;
}

}  // namespace

std::vector<int> PartitionPlan::first_units() const {
  std::vector<int> out;
  for (const StagePlan& s : stage_plans) out.push_back(s.first_unit);
  return out;
}

PartitionPlan plan_partition(const model::ModelConfig& c, const SystemConfig& system,
                             const compiler::PrecisionPolicy& weights, std::int64_t context,
                             const PartitionRequest& r) {
  const ChipConfig& chip = system.chip;
  const SystemTopology& t = system.topology;
  const bool one_chip = t.chips <= 1;
  const std::string model = c.name.empty() ? std::string("the model") : c.name;
  const std::string precision(compiler::precision_policy_name(weights));
  if (context < 1) fail("partition of {}: context {} must be at least 1 token", model, context);
  if (c.n_layer < 1) fail("partition of {}: it has no layers", model);
  if (r.stages < 0) fail("pipeline stages {} must be positive", r.stages);
  if (!(r.fill > 0 && r.fill <= 1)) fail("the planner's fill {} must be in (0, 1]", r.fill);
  const int rp = r.tensor_parallel;
  if (rp < 0) fail("tensor-parallel degree {} must be positive", rp);
  if (one_chip) {
    if (rp != 0 && rp != 1 && rp != 2 && rp != 4 && rp != 8)
      fail("tensor-parallel degree {} must be 1, 2, 4 or 8 (the chips of one node)", rp);
    if (rp > c.n_head)
      fail("tensor-parallel degree {} exceeds the {} query heads of {}: a chip would hold no head", rp, c.n_head,
           model);
  } else if (rp > t.chips_per_node) {
    fail("a tensor-parallel degree of {} does not fit a node of {} chips", rp, t.chips_per_node);
  }
  const Planner planner(c, chip, weights, context, r);
  const Capacity& cap = planner.capacity();
  const std::string what =
      fmt::format("{} ({} layers, {} weights, context {} tokens)", model, c.n_layer, precision, context);
  auto fewest_text = [&](int P, int max_stages) {
    const auto f = planner.fewest(P, max_stages);
    if (!f) {
      const Shape most = planner.at(P, max_stages);
      return fmt::format("{}-way tensor parallel cannot fit it: {} stages still fill the fullest chip to {:.0f}% "
                         "of its capacity",
                         P, most.S, 100 * most.load);
    }
    return fmt::format("{}-way tensor parallel needs at least {} stages ({} chips)", P, f->S, f->chips());
  };

  Shape best;
  std::int64_t fewest_chips = 0;
  std::string binds;
  std::vector<int> degrees;  // the P considered
  if (one_chip) {
    // "How many of these chips": the fewest that fit, over every P allowed.
    for (int p : {1, 2, 4, 8})
      if ((rp != 0 && p == rp) || (rp == 0 && p <= c.n_head && c.n_head % p == 0)) degrees.push_back(p);
    std::optional<Shape> found;
    for (int p : degrees) {
      std::optional<Shape> sh;
      if (r.stages > 0) {
        sh = planner.at(p, r.stages);
        if (sh->load > planner.floor_load(p) * (1 + 1e-9) || sh->S < r.stages) sh.reset();
      } else {
        sh = planner.fewest(p, 1 << 30);
      }
      if (sh && (!found || sh->chips() < found->chips())) found = sh;
    }
    if (!found) {
      std::string minima;
      for (int p : degrees) minima += (minima.empty() ? "" : "; ") + fewest_text(p, 1 << 30);
      if (rp == 0 && r.stages == 0) fail("{} does not fit any partition of {} chips: {}", what, system.name, minima);
      std::string forced = r.stages > 0 ? fmt::format("{} stages", r.stages) : "";
      if (rp > 0) forced += fmt::format("{}{}-way tensor parallel", forced.empty() ? "" : " x ", rp);
      // Say what would fit at every degree, not only the forced one.
      std::string all;
      for (int p : {1, 2, 4, 8})
        if (p <= c.n_head && c.n_head % p == 0) all += (all.empty() ? "" : "; ") + fewest_text(p, 1 << 30);
      fail("{} does not fit {} on {} chips: {}", what, forced, system.name, all);
    }
    best = *found;
    fewest_chips = r.stages > 0 ? 0 : best.chips();
    binds = r.stages > 0 || rp > 0 ? "forced" : "SRAM per chip";
  } else {
    const int P = node_parallel(c, t, r);
    degrees.push_back(P);
    const int max_stages = std::max(1, t.chips / P);
    const auto least = planner.fewest(P, 1 << 30);
    fewest_chips = least ? least->chips() : 0;
    if (r.stages > 0 || !r.fewest) {
      const int S = r.stages > 0 ? r.stages : max_stages;
      if (std::int64_t{S} * P > t.chips)
        fail("{} stages x {} chips = {} chips; {} has {} active chips", S, P, S * P, system.name, t.chips);
      best = planner.at(P, S);
      binds = r.stages > 0 || rp > 0 ? "forced" : best.units_bound ? "the model's units" : "the system's chip count";
      // More bytes than all the system's chips hold: say so here, with what would fit, rather
      // than in the lowering of one chip. (A stage only a little over the estimate is left to
      // the placement, which decides.)
      const ModelFootprint footprint = model_footprint(c, chip, weights, context);
      if (footprint.total_bytes > std::uint64_t(t.chips) * footprint.chip_bytes)
        fail("{} does not fit {}: it needs {:.2f} GB of SRAM, its {} active chips hold {:.2f} GB ({}); a "
             "shorter --ctx or a larger system fits it",
             what, system.name, footprint.total_bytes / 1e9, t.chips,
             double(t.chips) * double(footprint.chip_bytes) / 1e9, fewest_text(P, 1 << 30));
    } else {
      const auto f = planner.fewest(P, max_stages);
      if (!f)
        fail("{} does not fit {} ({} active chips): {}", what, system.name, t.chips,
             fewest_text(P, 1 << 30));
      best = *f;
      binds = "SRAM per chip";
    }
  }
  const int units = planner.units(best.E, best.K);
  if (!r.first_units.empty()) {
    const std::vector<int>& firsts = r.first_units;
    if (firsts.front() != 0 || !std::is_sorted(firsts.begin(), firsts.end()) ||
        std::adjacent_find(firsts.begin(), firsts.end()) != firsts.end() || firsts.back() >= units)
      fail("forced stage cuts must start at unit 0 and increase below {} units", units);
    best.firsts = firsts;
    best.S = static_cast<int>(firsts.size());
    binds = "forced";
  }

  PartitionPlan plan;
  plan.stages = best.S;
  plan.tensor_parallel = best.P;
  plan.chips = best.chips();
  plan.embedding_parts = best.E;
  plan.ffn_parts = best.K;
  plan.units = units;
  plan.context = context;
  plan.fewest_chips = fewest_chips;
  plan.chip_bytes = static_cast<std::uint64_t>(chip.sram_bytes());
  plan.binds = binds;
  plan.stage_plans = planner.stages(best);
  for (const StagePlan& s : plan.stage_plans) plan.load = std::max(plan.load, s.load);

  // Why.
  const double vb = chip.vector_bytes;
  std::string why = fmt::format(
      "{} is {} units (the embedding in {} part{}, then per layer its attention and its FFN in {} column "
      "group{}), each split {} way{} across a node; a chip holds {} of MXM weights and {} in all ({} SRAM less "
      "{:.0f}% headroom)",
      what, units, best.E, best.E == 1 ? "" : "s", best.K, best.K == 1 ? "" : "s", best.P, best.P == 1 ? "" : "s",
      mb(cap.weights * vb), mb(cap.total * vb), mb(double(plan.chip_bytes)), 100 * kSramHeadroom);
  const auto fullest = std::max_element(plan.stage_plans.begin(), plan.stage_plans.end(),
                                        [](const StagePlan& a, const StagePlan& b) { return a.load < b.load; });
  const std::string load = fmt::format("the fullest chip at {:.0f}% of that ({})", 100 * plan.load,
                                       double(fullest->weight_bytes) / (cap.weights * vb) >=
                                               double(fullest->total_bytes) / (cap.total * vb)
                                           ? "its MXM weights bind"
                                           : "its SRAM binds");
  if (binds == "SRAM per chip") {
    if (plan.chips == 1) {
      why += fmt::format(": the whole model fits one chip, {}", load);
    } else {
      why += fmt::format(": the fewest stages whose units fit a chip are {}, {}", plan.stages, load);
      if (plan.load > 1)
        why += fmt::format(" (no stage count brings it under: one unit beside the {} already takes that, so the "
                           "compiler's placement decides that stage)",
                           fullest->head ? "LM head" : "embedding");
      why += fmt::format("; {} stages x {} chips = {} chips", plan.stages, plan.tensor_parallel, plan.chips);
      if (one_chip && best.P > 1) {
        const auto half = planner.fewest(best.P / 2, 1 << 30);
        why += half ? fmt::format(" ({}-way would take {} chips)", best.P / 2, half->chips())
                    : fmt::format(" ({}-way cannot fit it)", best.P / 2);
      }
      if (!one_chip) why += fmt::format(", of the {} active chips of {}", t.chips, system.name);
    }
    why += ". Binds: the SRAM per chip";
  } else if (binds == "forced") {
    why += fmt::format(": {} stages x {} chips = {} chips as requested, {}", plan.stages, plan.tensor_parallel,
                       plan.chips, load);
    if (plan.load > 1) why += " (more than the estimate allows: the placement decides)";
    why += ". Binds: the request";
  } else {
    why += fmt::format(": spread over {} stages x {} chips = {} chips of {}'s {} active chips, {}", plan.stages,
                       plan.tensor_parallel, plan.chips, system.name, t.chips, load);
    if (plan.load > 1) why += " (more than the estimate allows: the placement decides)";
    why += fewest_chips > 0 ? fmt::format("; it needs at least {} chips", fewest_chips)
                            : std::string("; no number of stages fits the estimate");
    why += binds == "the model's units" ? ". Binds: the model's units (one stage per unit at most)"
                                        : ". Binds: the system's chip count (the compiler uses every active chip)";
  }
  plan.reason = why + ".";
  return plan;
}

}  // namespace lockstep::compiler
