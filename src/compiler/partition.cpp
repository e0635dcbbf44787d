#include "compiler/partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "compiler/model_footprint.h"

namespace lockstep::lpu {
namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }
std::string mb(std::uint64_t bytes) { return fmt::format("{:.1f} MB", double(bytes) / 1e6); }

constexpr int kDegrees[] = {1, 2, 4, 8};

// Where the parts go for one tensor-parallel degree: how many stages of their own the embedding
// and the LM head take (0: they ride on the first / last layer stage), and the layers of each
// layer stage.
struct Layout {
  int embedding_stages = 0;
  int head_stages = 0;
  std::vector<int> layers;  // per layer stage
  int stages() const { return embedding_stages + static_cast<int>(layers.size()) + head_stages; }
};

// The sizes of one tensor-parallel degree, per chip, in vectors.
class Degree {
 public:
  Degree(const model::ModelConfig& c, const ChipConfig& chip, compiler::WeightPrecision w,
         std::int64_t context, int p, std::uint64_t budget)
      : c_(c), chip_(chip), w_(w), p_(p), budget_(budget),
        parts_(model_parts(c, chip, w, context, p)) {}

  int p() const { return p_; }
  const ModelParts& parts() const { return parts_; }
  std::uint64_t vocab_rows(int stages) const {
    return ceil_div(c_.n_vocab, std::uint64_t(stages) * p_);
  }
  std::uint64_t embedding(int stages) const {
    return embedding_vectors(c_, chip_, vocab_rows(stages));
  }
  std::uint64_t head(int stages) const {  // the LM head rows and the output norm
    return lm_head_vectors(c_, chip_, w_, vocab_rows(stages)) + parts_.final_norm;
  }
  // Layers that fit one chip beside `extra` vectors (negative: not even the extra fits).
  std::int64_t layer_capacity(std::uint64_t extra) const {
    const std::uint64_t used = parts_.activations + extra;
    if (used > budget_) return -1;
    return static_cast<std::int64_t>((budget_ - used) / parts_.layer());
  }
  // The fewest stages of their own holding a part split over their chips; 0 when none fit.
  template <typename Part>
  int own_stages(Part part) const {
    for (int k = 1;; ++k) {
      if (layer_capacity((this->*part)(k)) >= 0) return k;
      if (vocab_rows(k) == 1) return 0;
    }
  }

  // Layer counts for `n` layer stages (contiguous, balanced), or nothing when they do not fit.
  std::optional<std::vector<int>> balance(int n, bool embedding_here, bool head_here) const {
    const int layers = static_cast<int>(c_.n_layer);
    if (n < 1 || n > layers) return std::nullopt;
    std::vector<std::int64_t> cap(n, layer_capacity(0));
    if (n == 1) {
      cap[0] = layer_capacity((embedding_here ? embedding(1) : 0) + (head_here ? head(1) : 0));
    } else {
      if (embedding_here) cap[0] = layer_capacity(embedding(1));
      if (head_here) cap[n - 1] = layer_capacity(head(1));
    }
    std::int64_t total = 0;
    for (auto x : cap) {
      if (x < 1) return std::nullopt;
      total += x;
    }
    if (total < layers) return std::nullopt;
    // The smallest per-stage maximum m that holds all layers, then one layer less on the stages
    // that hold the embedding or head first, then from the back, until the count is exact.
    std::int64_t m = 1;
    auto held = [&](std::int64_t m) {
      std::int64_t s = 0;
      for (auto x : cap) s += std::min(x, m);
      return s;
    };
    while (held(m) < layers) ++m;
    std::vector<int> out(n);
    for (int i = 0; i < n; ++i) out[i] = static_cast<int>(std::min(cap[i], m));
    std::int64_t excess = held(m) - layers;
    std::vector<int> order{0};
    for (int i = n - 1; i >= 1; --i) order.push_back(i);
    for (int i : order)
      if (excess > 0 && out[i] == m) --out[i], --excess;
    return out;
  }

  // The layout with the fewest stages (or exactly `forced` stages), embedding and head sharing
  // layer stages when they can; nothing when none fits.
  std::optional<Layout> layout(int forced) const {
    std::optional<Layout> best;
    const int emb_own = own_stages(&Degree::embedding), head_own = own_stages(&Degree::head);
    for (bool emb_shared : {true, false}) {
      for (bool head_shared : {true, false}) {
        Layout l;
        l.embedding_stages = emb_shared ? 0 : emb_own;
        l.head_stages = head_shared ? 0 : head_own;
        if ((!emb_shared && emb_own == 0) || (!head_shared && head_own == 0)) continue;
        const int own = l.embedding_stages + l.head_stages;
        std::optional<std::vector<int>> layers;
        if (forced > 0) {
          layers = balance(forced - own, emb_shared, head_shared);
        } else {
          for (int n = 1; n <= c_.n_layer && !layers; ++n) layers = balance(n, emb_shared, head_shared);
        }
        if (!layers) continue;
        l.layers = *layers;
        if (!best || l.stages() < best->stages()) best = l;
      }
    }
    return best;
  }

 private:
  const model::ModelConfig& c_;
  const ChipConfig& chip_;
  compiler::WeightPrecision w_;
  int p_;
  std::uint64_t budget_;
  ModelParts parts_;
};

struct Candidate {
  int p;
  Layout layout;
  std::int64_t chips() const { return std::int64_t(layout.stages()) * p; }
};

}  // namespace

PartitionPlan plan_partition(const model::ModelConfig& c, const ChipConfig& chip,
                             compiler::WeightPrecision weights, std::int64_t context,
                             const PartitionRequest& request) {
  const std::uint64_t vb = chip.vector_bytes;
  const std::uint64_t chip_bytes = static_cast<std::uint64_t>(chip.sram_bytes());
  const std::uint64_t budget = static_cast<std::uint64_t>(double(chip_bytes) * (1 - kPartitionHeadroom)) / vb;
  const std::string model = c.name.empty() ? std::string("the model") : c.name;
  const std::string precision(compiler::weight_precision_name(weights));
  if (context < 1) fail("partition of {}: context {} must be at least 1 token", model, context);
  if (c.n_layer < 1) fail("partition of {}: it has no layers", model);
  const int rp = request.tensor_parallel;
  if (rp != 0 && rp != 1 && rp != 2 && rp != 4 && rp != 8)
    fail("tensor-parallel degree {} must be 1, 2, 4 or 8 (the chips of one node)", rp);
  if (rp > c.n_head)
    fail("tensor-parallel degree {} exceeds the {} query heads of {}: a chip would hold no head", rp,
         c.n_head, model);
  if (request.stages < 0) fail("pipeline stages {} must be positive", request.stages);
  if (request.max_chips < 0) fail("max chips {} must be positive", request.max_chips);

  // Every degree's best layout, forced or not, and what it needs when unforced (for errors).
  std::vector<Degree> degrees;
  for (int p : kDegrees)
    if (p <= c.n_head) degrees.emplace_back(c, chip, weights, context, p, budget);
  auto minimum = [&](const Degree& d) {
    const auto l = d.layout(0);
    if (!l)
      return fmt::format("{}-way tensor parallel cannot fit one layer ({} per chip) in {}", d.p(),
                         mb(d.parts().layer() * vb), mb(budget * vb));
    return fmt::format("{}-way tensor parallel needs at least {} stages ({} chips)", d.p(),
                       l->stages(), std::int64_t(l->stages()) * d.p());
  };
  auto all_minima = [&] {
    std::string s;
    for (const auto& d : degrees) s += (s.empty() ? "" : "; ") + minimum(d);
    return s;
  };
  std::optional<Candidate> best;
  for (const auto& d : degrees) {
    if (rp != 0 && d.p() != rp) continue;
    const auto l = d.layout(request.stages);
    if (!l) continue;
    const Candidate cand{d.p(), *l};
    if (request.max_chips > 0 && cand.chips() > request.max_chips) continue;
    if (!best || cand.chips() < best->chips()) best = cand;
  }
  const std::string what = fmt::format("{} ({} layers, {} weights, context {} tokens, {} per chip "
                                       "after {:.0f}% headroom)",
                                       model, c.n_layer, precision, context, mb(budget * vb),
                                       100 * kPartitionHeadroom);
  if (!best) {
    std::string forced;
    if (request.stages > 0) forced += fmt::format("{} stages", request.stages);
    if (rp > 0) forced += fmt::format("{}{}-way tensor parallel", forced.empty() ? "" : " x ", rp);
    if (request.max_chips > 0)
      forced += fmt::format("{}at most {} chips", forced.empty() ? "" : ", ", request.max_chips);
    if (forced.empty()) fail("{} does not fit any partition: {}", what, all_minima());
    fail("{} does not fit {}: {}", what, forced, all_minima());
  }

  // The plan, stage by stage.
  const Degree& d = *std::find_if(degrees.begin(), degrees.end(),
                                  [&](const Degree& x) { return x.p() == best->p; });
  const ModelParts& parts = d.parts();
  const Layout& l = best->layout;
  PartitionPlan plan;
  plan.stages = l.stages();
  plan.tensor_parallel = best->p;
  plan.chips = best->chips();
  plan.context = context;
  plan.chip_bytes = chip_bytes;
  plan.budget_bytes = budget * vb;
  plan.layer_bytes = model_parts(c, chip, weights, context, 1).layer() * vb;
  const std::uint64_t emb_rows = d.vocab_rows(std::max(l.embedding_stages, 1));
  const std::uint64_t head_rows = d.vocab_rows(std::max(l.head_stages, 1));
  auto add_stage = [&](int first, int count, bool embedding, bool head) {
    StagePlan s;
    s.first_layer = first;
    s.layer_count = count;
    s.embedding_rows = embedding ? emb_rows : 0;
    s.head_rows = head ? head_rows : 0;
    s.weight_bytes = vb * (count * parts.layer_weights +
                           (embedding ? embedding_vectors(c, chip, emb_rows) : 0) +
                           (head ? lm_head_vectors(c, chip, weights, head_rows) : 0));
    s.kv_bytes = vb * count * parts.layer_kv;
    s.other_bytes = vb * (count * parts.layer_norms + parts.activations + (head ? parts.final_norm : 0));
    plan.stage_plans.push_back(s);
  };
  for (int k = 0; k < l.embedding_stages; ++k) add_stage(0, 0, true, false);
  int layer = 0;
  const int n = static_cast<int>(l.layers.size());
  for (int i = 0; i < n; ++i) {
    add_stage(layer, l.layers[i], i == 0 && l.embedding_stages == 0, i == n - 1 && l.head_stages == 0);
    layer += l.layers[i];
  }
  for (int k = 0; k < l.head_stages; ++k) add_stage(c.n_layer, 0, false, true);

  // Why.
  const int most = *std::max_element(l.layers.begin(), l.layers.end());
  std::string r = fmt::format("{} layers x {} per layer at {} (weights, norms and the {}-token "
                              "KV cache) against {} per chip ({} SRAM less {:.0f}% headroom)",
                              c.n_layer, mb(plan.layer_bytes), precision, context,
                              mb(plan.budget_bytes), mb(chip_bytes), 100 * kPartitionHeadroom);
  if (plan.chips == 1) {
    r += fmt::format(": the whole model, {}, fits one chip", mb(plan.stage_plans[0].total_bytes()));
  } else {
    if (best->p == 1) {
      r += fmt::format(": a layer fits one chip, so the layers are pipelined, up to {} per chip",
                       most);
    } else {
      const Degree* half = nullptr;
      for (const auto& x : degrees)
        if (x.p() == best->p / 2) half = &x;
      const bool needed = half && half->layer_capacity(0) < 1;
      r += fmt::format(": each layer split {} ways across a node takes {} per chip, so up to {} "
                       "per stage",
                       best->p, mb(parts.layer() * vb), most);
      if (needed)
        r += fmt::format(" ({} ways would leave {} per chip, more than fits)", best->p / 2,
                         mb(half->parts().layer() * vb));
    }
    r += fmt::format("; {} stages x {} chips = {} chips", plan.stages, plan.tensor_parallel, plan.chips);
  }
  const std::uint64_t emb_total = embedding_vectors(c, chip, c.n_vocab) * vb;
  const std::uint64_t head_total = lm_head_vectors(c, chip, weights, c.n_vocab) * vb;
  if (plan.chips > 1) {
    r += fmt::format(". The embedding ({}) {}", mb(emb_total),
                     l.embedding_stages == 0
                         ? fmt::format("sits on the first stage, {} per chip",
                                       mb(embedding_vectors(c, chip, emb_rows) * vb))
                         : fmt::format("does not fit beside a layer: its rows are split over {} "
                                       "stage(s) of its own, {} per chip",
                                       l.embedding_stages, mb(embedding_vectors(c, chip, emb_rows) * vb)));
    r += fmt::format("; the LM head ({}) {}", mb(head_total),
                     l.head_stages == 0
                         ? fmt::format("sits on the last stage, {} per chip",
                                       mb(lm_head_vectors(c, chip, weights, head_rows) * vb))
                         : fmt::format("does not fit beside a layer: its rows are split over {} "
                                       "stage(s) of its own, {} per chip",
                                       l.head_stages, mb(lm_head_vectors(c, chip, weights, head_rows) * vb)));
  }
  if (request.stages > 0 || rp > 0)
    r += fmt::format(" (forced: {}{}{})", request.stages > 0 ? fmt::format("{} stages", request.stages) : "",
                     request.stages > 0 && rp > 0 ? ", " : "",
                     rp > 0 ? fmt::format("{}-way tensor parallel", rp) : "");
  plan.reason = r + ".";
  return plan;
}

}  // namespace lockstep::lpu
