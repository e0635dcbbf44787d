#include "compiler/system_lowering.h"

#include "compiler/all_reduce_lowering.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>
#include <map>

#include "compiler/partition_planner.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "lpu/arch/topology.h"

namespace lockstep::compiler {
namespace {


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

std::string chip_role(const StageSpec& s) {
  return fmt::format("rank {}{}{}", s.tp_rank, s.ingress ? " (ingress)" : "", s.egress ? " (egress)" : "");
}

bool same_code(const Program& a, const Program& b) {
  return a.queues == b.queues && a.buffers == b.buffers && a.predicted_cycles == b.predicted_cycles;
}

}  // namespace


SystemDecode::SystemDecode(const model::ModelConfig& config, const model::Model* model,
                           const SystemConfig& system, const DecodeOptions& options,
                           const PartitionRequest& request,
                           const std::function<void(int, int, std::size_t)>& progress, int threads)
    : config_(config), chip_(system.chip) {
  core::ThreadPool pool(threads);
  // The balance estimates each chip's SRAM from the model's parts; when a stage's real
  // placement disagrees (padding, fragmentation), plan again with less of each chip counted on.
  for (const double fill : {1.0, 0.9, 0.8, 0.7}) {
    try {
      build(model, system, options, request, progress, fill, pool);
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
                         const PartitionRequest& request,
                         const std::function<void(int, int, std::size_t)>& progress, double fill,
                         core::ThreadPool& pool) {
  const model::ModelConfig& config = config_;
  const Topology topology(system);
  rows_ = static_cast<std::uint32_t>(std::max<std::int64_t>(1, options.rows));
  const std::int64_t context =
      options.context > 0 ? options.context : std::min<std::int64_t>(config.n_ctx_train, 4096);
  context_ = context;
  // P, S, E, K and the cuts: the partition planner's (partition_planner.h), counting on `fill`
  // of each chip's capacities.
  PartitionRequest planned = request;
  planned.fill = fill;
  plan_ = plan_partition(config, system, options.weights, context, planned);
  const PartitionPlan& plan = plan_;
  tp_ = plan.tensor_parallel;
  embedding_parts_ = plan.embedding_parts;
  ffn_parts_ = plan.ffn_parts;
  const int S = plan.stages;
  const int E = embedding_parts_;
  const int units = plan.units;
  const std::vector<int> firsts = plan.first_units();
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
    pool.parallel_for(jobs.size(), [&](std::size_t j) {
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
        a.channel_links[kChannelButterfly + step] = direct_link(topology, me, chips[s][rank ^ (1 << step)]);
      if (s > 0 && rank == 0) {
        a.channel_links[kChannelInput] = direct_link(topology, me, chips[s - 1].back());
        for (int k = 1; k < tp_; ++k)
          a.channel_links[kChannelForward + k - 1] = direct_link(topology, me, chips[s][k]);
      }
      if (s > 0 && rank > 0) a.channel_links[kChannelFromIngress] = direct_link(topology, me, chips[s][0]);
      if (s + 1 < S && rank == tp_ - 1) a.channel_links[kChannelOutput] = direct_link(topology, me, chips[s + 1][0]);
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

}  // namespace lockstep::compiler
