#include "compiler/system_lowering.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>
#include <atomic>
#include <exception>
#include <map>
#include <thread>
#include <tuple>

#include "core/error.h"
#include "compiler/model_footprint.h"
#include "compiler/partition.h"
#include "lpu/arch/topology.h"

namespace lockstep::lpu {
namespace {

// What one chip of a stage holds of each unit (per layer: attention, then K FFN groups), in
// vectors: MXM weights, which must sit in the slices that feed the MXM planes, and everything
// (weights, KV cache, norms), which must fit the chip. The first stage adds the embedding table
// (anywhere), the last the LM head (MXM weights).
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

UnitCosts unit_costs(const model::ModelConfig& c, const ChipConfig& chip, compiler::WeightPrecision weights,
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
// waste), and the whole SRAM less the partition's headroom (partition.h).
struct Capacity {
  double weights = 0, total = 0;
};

Capacity chip_capacity(const ChipConfig& chip) {
  const double slice = double(chip.banks_per_slice) * chip.vectors_per_bank;
  const double planes = 2.0 * chip.mxm_planes_per_hemisphere;
  return {0.9 * planes * chip.mxm_load_streams * slice, (1 - 1.5 * kPartitionHeadroom) * double(chip.sram_bytes()) / chip.vector_bytes};
}

// The load of units [lo, hi) as a fraction of the chip: the larger of weights and total.
double stage_load(const UnitCosts& u, const Capacity& cap, int lo, int hi) {
  Load sum;
  for (int i = lo; i < hi; ++i) sum += u.unit[i];
  if (lo == 0) sum += u.first_extra;
  if (hi == static_cast<int>(u.unit.size())) sum += u.last_extra;
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

int link_to(const Topology& topology, int from, int to) {
  for (int l = 0; l < topology.links_per_chip(); ++l)
    if (topology.peer(from, l).chip == to) return l;
  fail("internal compiler error: chip {} has no direct link to chip {}", from, to);
}

// Chips of every stage, P per stage, filling nodes so that consecutive stages share a direct
// link from the last chip of one to the first of the next. Nodes are visited in a depth-first
// order over their global links.
std::vector<std::vector<int>> place_stages(const Topology& topology, int stages, int P) {
  const SystemTopology& t = topology.description();
  const int per_node = t.chips_per_node;
  const int groups = per_node / P;  // stages per node
  const int nodes_needed = (stages + groups - 1) / groups;
  const int active_nodes = topology.active_chips() / per_node;
  if (nodes_needed > active_nodes)
    fail("{} stages x {} chips need {} nodes; the system has {} active nodes of {} chips", stages, P,
         nodes_needed, active_nodes, per_node);
  // path[i] = (node, ingress chip or -1, egress chip or -1)
  struct Visit { int node, ingress, egress; };
  std::vector<Visit> path;
  std::vector<bool> used(static_cast<std::size_t>(active_nodes), false);
  std::function<bool(int, int)> extend = [&](int node, int ingress) -> bool {
    used[node] = true;
    path.push_back({node, ingress, -1});
    if (static_cast<int>(path.size()) == nodes_needed) return true;
    for (int k = 0; k < per_node; ++k) {
      const int chip = node * per_node + k;
      if (groups > 1 && chip == ingress) continue;
      for (int l = t.local_links; l < topology.links_per_chip(); ++l) {
        const LinkEnd end = topology.peer(chip, l);
        if (!end.wired() || end.chip >= topology.active_chips()) continue;
        const int next = end.chip / per_node;
        if (used[next]) continue;
        path.back().egress = chip;
        if (extend(next, end.chip)) return true;
      }
    }
    path.pop_back();
    used[node] = false;
    return false;
  };
  if (!extend(0, -1)) fail("found no chain of directly linked nodes for {} stages", stages);
  std::vector<std::vector<int>> placed;
  for (const Visit& v : path) {
    std::vector<int> order;
    if (v.ingress >= 0) order.push_back(v.ingress);
    for (int k = 0; k < per_node; ++k) {
      const int chip = v.node * per_node + k;
      if (chip != v.ingress && chip != v.egress) order.push_back(chip);
    }
    if (v.egress >= 0 && v.egress != v.ingress) {
      // The egress chip ends the node's last group.
      const int last_group_end = std::min(groups, stages - static_cast<int>(placed.size())) * P;
      order.insert(order.begin() + std::min<int>(last_group_end - 1, static_cast<int>(order.size())), v.egress);
    }
    for (int g = 0; g < groups && static_cast<int>(placed.size()) < stages; ++g)
      placed.emplace_back(order.begin() + g * P, order.begin() + (g + 1) * P);
  }
  return placed;
}

// Runs body(i) for i < n on up to two threads (the machine's cores); rethrows the first error.
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& body) {
  const std::size_t workers = std::min<std::size_t>(n, std::max(1u, std::min(2u, std::thread::hardware_concurrency())));
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(n);
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

std::string chip_role(const StageSpec& s) {
  return fmt::format("rank {}{}{}", s.tp_rank, s.ingress ? " (ingress)" : "", s.egress ? " (egress)" : "");
}

bool same_code(const Program& a, const Program& b) {
  return a.queues == b.queues && a.buffers == b.buffers && a.predicted_cycles == b.predicted_cycles;
}

}  // namespace


SystemDecode::SystemDecode(const model::ModelConfig& config, const model::Model* model,
                           const SystemConfig& system, const DecodeOptions& options,
                           const SystemRequest& request,
                           const std::function<void(int, int, std::size_t)>& progress)
    : config_(config), chip_(system.chip) {
  // The balance estimates each chip's SRAM from the model's parts; when a stage's real
  // placement disagrees (padding, fragmentation), plan again with less of each chip counted on.
  for (const double fill : {1.0, 0.9, 0.8, 0.7}) {
    try {
      build(model, system, options, request, progress, fill);
      return;
    } catch (const DoesNotFit& e) {
      if (fill == 0.7) throw;
      program_ = {};
      stages_.clear();
      compiled_.clear();
    }
  }
}

void SystemDecode::build(const model::Model* model, const SystemConfig& system, const DecodeOptions& options,
                         const SystemRequest& request,
                         const std::function<void(int, int, std::size_t)>& progress, double fill) {
  const model::ModelConfig& config = config_;
  const Topology topology(system);
  const SystemTopology& t = topology.description();
  // P: the request, else the node's chips, halved until the query heads split evenly.
  tp_ = request.tensor_parallel > 0 ? request.tensor_parallel : std::min(t.chips_per_node, 8);
  if (request.tensor_parallel == 0)
    while (tp_ > 1 && (config.n_head % tp_ != 0 || (tp_ & (tp_ - 1)) != 0)) --tp_;
  if (tp_ > t.chips_per_node)
    fail("a tensor-parallel degree of {} does not fit a node of {} chips", tp_, t.chips_per_node);
  int S = request.stages > 0 ? request.stages : std::max(1, topology.active_chips() / tp_);
  if (std::int64_t{S} * tp_ > topology.active_chips())
    fail("{} stages x {} chips = {} chips; {} has {} active chips", S, tp_, S * tp_, system.name,
         topology.active_chips());
  rows_ = static_cast<std::uint32_t>(std::max<std::int64_t>(1, options.rows));

  const std::int64_t context =
      options.context > 0 ? options.context : std::min<std::int64_t>(config.n_ctx_train, 4096);
  context_ = context;
  // K: the FFN of every layer is cut into K column groups when whole FFNs are too coarse to
  // spread over the stages: the fewest groups (1, 2, 4) whose balanced stages fit a chip.
  Capacity capacity = chip_capacity(system.chip);
  capacity.weights *= fill;
  capacity.total *= fill;
  // E: the embedding is spread over E stages' worth of units when one stage's share would take
  // most of a chip (a 128k-token vocabulary at 8192 wide is 263 MB per chip of 8).
  embedding_parts_ = request.embedding_parts > 0 ? request.embedding_parts : 1;
  while (request.embedding_parts == 0 && embedding_parts_ < 8 &&
         double(embedding_vectors(config, system.chip,
                                  static_cast<std::uint64_t>((config.n_vocab + std::int64_t{embedding_parts_} * tp_ - 1) /
                                                             (std::int64_t{embedding_parts_} * tp_)))) >
             0.6 * capacity.total)
    embedding_parts_ *= 2;
  const int E = embedding_parts_;
  std::vector<int> firsts;
  for (ffn_parts_ = request.ffn_parts > 0 ? request.ffn_parts : 1;; ffn_parts_ *= 2) {
    const UnitCosts costs = unit_costs(config, system.chip, options.weights, context, tp_, ffn_parts_, E);
    S = std::min(S, static_cast<int>(costs.unit.size()));
    double load = 0;
    std::tie(firsts, load) = balance_units(costs, capacity, S);
    if (load <= 1 || ffn_parts_ == 4 || request.ffn_parts > 0) break;
  }
  const int units = E + static_cast<int>((1 + ffn_parts_) * config.n_layer);
  if (!request.first_units.empty()) {
    firsts = request.first_units;
    S = static_cast<int>(firsts.size());
    if (firsts.front() != 0 || !std::is_sorted(firsts.begin(), firsts.end()) ||
        std::adjacent_find(firsts.begin(), firsts.end()) != firsts.end() || firsts.back() >= units)
      fail("forced stage cuts must start at unit 0 and increase below {} units", units);
  }
  const std::int64_t rows_per_part = (config.n_vocab + E - 1) / E;
  const std::vector<std::vector<int>> chips = place_stages(topology, S, tp_);

  LinkCycles link;
  link.occupancy = static_cast<std::uint16_t>(topology.link_occupancy_cycles(system.chip.vector_bytes));
  link.transfer = static_cast<std::uint32_t>(topology.link_transfer_cycles(system.chip.vector_bytes));

  program_.system = system.name;
  program_.description = fmt::format("{} {} x {}-way over {} chips of {}", rows_ == 1 ? "decode" : "prefill",
                                     S, tp_, S * tp_, system.name);
  // Programs compiled without weights are shared by every stage of the same shape and role.
  std::map<std::string, int> shared;
  std::vector<std::uint64_t> previous_sends;  // egress sends of the previous stage, its cycles
  std::int64_t start = 0;
  for (int s = 0; s < S; ++s) {
    StageInfo info;
    info.first_unit = firsts[s];
    info.end_unit = s + 1 < S ? firsts[s + 1] : units;
    info.chips = chips[s];
    info.start_cycle = start;
    StageSpec spec;
    spec.first_unit = std::max(info.first_unit, E) - E;  // layer units, numbered from the first layer
    spec.end_unit = std::max(info.end_unit, E) - E;
    spec.embedding = info.first_unit < E;
    if (spec.embedding) {
      spec.embedding_first = info.first_unit * rows_per_part;
      spec.embedding_rows = std::min<std::int64_t>(config.n_vocab, std::min(info.end_unit, E) * rows_per_part) -
                            spec.embedding_first;
      spec.embedding_adds = info.first_unit > 0;
    }
    spec.head = s + 1 == S;
    spec.tp_size = tp_;
    spec.ffn_parts = ffn_parts_;
    spec.link = link;
    // Every stage program is compiled here, so that an error names its stage.
    auto compile = [&](const StageSpec& mine) {
      auto where = [&] {
        return fmt::format("stage {} of {} (units {}..{}{}{}), {}: ", s, S, info.first_unit, info.end_unit - 1,
                           mine.embedding ? " + embedding" : "", mine.head ? " + LM head" : "", chip_role(mine));
      };
      try {
        return DecodeProgram(config, model, system, options, mine);
      } catch (const DoesNotFit& e) {
        throw DoesNotFit(where() + e.what());  // the caller may plan again
      } catch (const Error& e) {
        throw Error(where() + e.what());
      }
    };
    std::vector<std::uint64_t> ingress_arrivals, peer_arrivals;
    std::vector<std::vector<MemorySegment>> memory_of_rank(static_cast<std::size_t>(tp_));
    if (s > 0) {
      // This stage's cycle 0 is the arrival of the first vector of x.
      for (std::uint64_t c : previous_sends) ingress_arrivals.push_back(c - previous_sends.front());
      StageSpec probe = spec;
      probe.input_only = true;
      probe.ingress = true;
      probe.input_arrivals = ingress_arrivals;
      const DecodeProgram ingress = compile(probe);
      std::uint64_t ready = ingress.input_ready();
      if (tp_ > 1) {
        for (std::uint64_t c : ingress.forward_sends()) peer_arrivals.push_back(c + link.transfer);
        probe.ingress = false;
        probe.input_arrivals = peer_arrivals;
        ready = std::max(ready, compile(probe).input_ready());
      }
      // Past the input's last stream writes, so that every rank schedules its layers alike.
      // (a stream write occupies its diagonal for up to a chip's width of positions).
      spec.body_floor = ready + 2 * static_cast<std::uint64_t>(Floorplan(system.chip).positions());
    }
    // The ranks' specs; each distinct one (every rank, when weights make them differ) is
    // compiled once, the distinct ones in parallel.
    std::vector<StageSpec> specs(static_cast<std::size_t>(tp_), spec);
    std::vector<std::string> keys;
    for (int rank = 0; rank < tp_; ++rank) {
      StageSpec& mine = specs[rank];
      mine.tp_rank = rank;
      mine.ingress = s > 0 && rank == 0;
      mine.egress = s + 1 < S && rank == tp_ - 1;
      if (s > 0) mine.input_arrivals = mine.ingress ? ingress_arrivals : peer_arrivals;
      keys.push_back(model ? std::to_string(rank)
                           : fmt::format("{}:{}:{}:{}:{}:{}:{}:{}:{}:{}", mine.first_unit % (1 + ffn_parts_),
                                         mine.end_unit - mine.first_unit, mine.embedding, mine.embedding_rows,
                                         mine.embedding_adds, mine.head,
                                         mine.ingress, mine.egress, fmt::join(mine.input_arrivals, ","),
                                         mine.body_floor));
    }
    std::vector<int> jobs;  // ranks to compile
    for (int rank = 0; rank < tp_; ++rank)
      if ((model || !shared.count(keys[rank])) &&
          std::find_if(jobs.begin(), jobs.end(), [&](int j) { return keys[j] == keys[rank]; }) == jobs.end())
        jobs.push_back(rank);
    std::vector<std::unique_ptr<DecodeProgram>> compiled(static_cast<std::size_t>(tp_));
    parallel_for(jobs.size(), [&](std::size_t j) {
      compiled[jobs[j]] = std::make_unique<DecodeProgram>(compile(specs[jobs[j]]));
    });
    for (int rank : jobs) {
      const DecodeProgram& stage = *compiled[rank];
      Program program = stage.program();
      memory_of_rank[rank] = std::move(program.memory);
      program.memory.clear();
      int index = -1;
      for (std::size_t p = 0; p < program_.programs.size() && index < 0; ++p)
        if (same_code(program_.programs[p], program)) index = static_cast<int>(p);
      if (index < 0) {
        index = static_cast<int>(program_.programs.size());
        program_.programs.push_back(std::move(program));
        compiled_.push_back({stage.output_sends(), stage.sram_bytes(), stage.vocab_rows()});
      }
      shared[keys[rank]] = index;
    }
    std::vector<std::uint64_t> egress_sends;
    for (int rank = 0; rank < tp_; ++rank) {
      ChipAssignment chip;
      chip.chip = chips[s][rank];
      chip.start_cycle = start;
      chip.role = fmt::format("stage {} {}", s, chip_role(specs[rank]));
      chip.program = shared.at(keys[rank]);
      chip.memory = std::move(memory_of_rank[rank]);
      const CompiledFacts& c = compiled_[chip.program];
      const std::int64_t token_rows = (specs[rank].embedding_rows + tp_ - 1) / tp_;
      chip.host = {specs[rank].embedding ? specs[rank].embedding_first + rank * token_rows : 0,
                   rank * c.vocab_rows};
      if (specs[rank].egress) egress_sends = c.output_sends;
      info.sram_bytes = std::max(info.sram_bytes, c.sram_bytes);
      info.cycles = std::max(info.cycles, program_.programs[chip.program].predicted_cycles);
      program_.chips.push_back(std::move(chip));
    }
    if (progress) progress(s + 1, S, program_.programs.size());
    // Channel maps: butterfly partners, the stage's input and output, the ingress's forwards.
    const std::size_t base = program_.chips.size() - static_cast<std::size_t>(tp_);
    for (int rank = 0; rank < tp_; ++rank) {
      ChipAssignment& a = program_.chips[base + rank];
      const int me = chips[s][rank];
      for (int step = 0; (1 << step) < tp_; ++step)
        a.channel_links[kChannelButterfly + step] = link_to(topology, me, chips[s][rank ^ (1 << step)]);
      if (s > 0 && rank == 0) {
        a.channel_links[kChannelInput] = link_to(topology, me, chips[s - 1].back());
        for (int k = 1; k < tp_; ++k)
          a.channel_links[kChannelForward + k - 1] = link_to(topology, me, chips[s][k]);
      }
      if (s > 0 && rank > 0) a.channel_links[kChannelFromIngress] = link_to(topology, me, chips[s][0]);
      if (s + 1 < S && rank == tp_ - 1) a.channel_links[kChannelOutput] = link_to(topology, me, chips[s + 1][0]);
    }
    program_.predicted_cycles = std::max<std::uint64_t>(program_.predicted_cycles,
                                                        static_cast<std::uint64_t>(start) + info.cycles);
    if (s + 1 < S) {
      if (egress_sends.empty()) fail("internal compiler error: stage {} sends nothing onward", s);
      // A link out of the synchronous domain is Ethernet: its fixed latency delays the next
      // stage (its jitter is the simulator's, system_simulator.h).
      const bool ethernet = topology.domain(chips[s].back()) != topology.domain(chips[s + 1].front());
      start += static_cast<std::int64_t>(egress_sends.front() + link.transfer) +
               (ethernet ? topology.ethernet_latency_cycles() : 0);
      previous_sends = egress_sends;
    }
    stages_.push_back(std::move(info));
  }
}

}  // namespace lockstep::lpu
