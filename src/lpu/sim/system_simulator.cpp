#include "lpu/sim/system_simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/error.h"
#include "lpu/sim/link_port.h"
#include "lpu/program/machine_rule_violation.h"

namespace lockstep::lpu {
namespace {

constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();

// A vector on its way, or arrived and not yet received.
struct Arrival {
  std::int64_t arrival = 0;    // system cycle it is at the receiving end
  std::int64_t departure = 0;  // system cycle it left
  int sender = 0;              // chip assignment index
  int channel = 0;             // sender's channel
  std::vector<std::uint8_t> payload;  // [vector_bytes] bytes; empty in timing mode
};

// The latest Send on one direction of a link.
struct Departure {
  std::int64_t cycle = kNone;  // system cycle
  int channel = 0;
};

// The link rules of system_simulator.h, for every chip of a system program. Sends and receives
// come in nondecreasing system cycle per link direction, and a receive at t comes after every
// send that departed at or before t - transfer (both engines guarantee it). starts: [chip
// assignment] its start cycle, delays included; jitter: the run's, or nullptr.
class LinkLedger {
 public:
  LinkLedger(const SystemProgram& program, const Topology& topology, std::int64_t occupancy,
             std::int64_t transfer, std::int64_t ethernet, std::vector<std::int64_t> starts,
             const DomainJitter* jitter)
      : program_(program),
        topology_(topology),
        occupancy_(occupancy),
        transfer_(transfer),
        ethernet_(ethernet),
        starts_(std::move(starts)),
        jitter_(jitter) {}

  // A Send of chip assignment `a` on `channel` at program cycle `cycle`; vector: [vector_bytes]
  // bytes or nullptr (timing).
  void send(int a, int channel, std::int64_t cycle, const std::uint8_t* vector, int vector_bytes) {
    const ChipAssignment& chip = program_.chips[a];
    const int link = chip.channel_links[channel];
    const std::int64_t t = starts_[a] + cycle;
    Departure& last = departures_[{chip.chip, link}];
    const LinkEnd peer = topology_.peer(chip.chip, link);
    if (last.cycle != kNone && t < last.cycle + occupancy_)
      violation(
          "link {} of {} (to chip {}) carries one vector at a time in each direction: the Send "
          "on c2c.{}.tx at system cycle {} (program cycle {}) departs while the vector sent on "
          "c2c.{}.tx at system cycle {} occupies the link until cycle {} ({} cycles per vector)",
          link, label(a), peer.chip, channel, t, cycle, last.channel, last.cycle,
          last.cycle + occupancy_, occupancy_);
    last = {t, channel};
    Arrival arrival{t + transfer(chip.chip, link, peer.chip), t, a, channel, {}};
    if (vector != nullptr) arrival.payload.assign(vector, vector + vector_bytes);
    mailboxes_[{peer.chip, peer.link}].push_back(std::move(arrival));
    ++transfers_;
  }

  // A Receive of chip assignment `a` on `channel` at program cycle `cycle`: the payload
  // ([vector_bytes] bytes, valid until the next receive) or nullptr in timing mode.
  const std::uint8_t* receive(int a, int channel, std::int64_t cycle) {
    const ChipAssignment& chip = program_.chips[a];
    const int link = chip.channel_links[channel];
    const std::int64_t t = starts_[a] + cycle;
    auto it = mailboxes_.find({chip.chip, link});
    if (it == mailboxes_.end() || it->second.empty() || it->second.front().arrival > t) {
      std::string detail = "nothing is on its way on it";
      if (it != mailboxes_.end() && !it->second.empty()) {
        const Arrival& next = it->second.front();
        detail = fmt::format("the next vector, sent by {} on c2c.{}.tx at system cycle {}, arrives "
                             "at cycle {}",
                             label(next.sender), next.channel, next.departure, next.arrival);
      }
      const LinkEnd peer = topology_.peer(chip.chip, link);
      violation(
          "no vector has arrived on link {} of {} by system cycle {} for the Receive on c2c.{}.rx "
          "at program cycle {} (a vector arrives {} cycles after its Send{}): {}",
          link, label(a), t, channel, cycle, transfer(peer.chip, peer.link, chip.chip),
          topology_.domain(peer.chip) != topology_.domain(chip.chip)
              ? ", over Ethernet between synchronous domains"
              : "",
          detail);
    }
    current_ = std::move(it->second.front().payload);
    it->second.pop_front();
    return current_.empty() ? nullptr : current_.data();
  }

  // Rule (c): every vector sent was received.
  void check_all_received() const {
    for (const auto& [end, box] : mailboxes_) {
      if (box.empty()) continue;
      const Arrival& a = box.front();
      violation(
          "{} sent a vector on c2c.{}.tx at system cycle {} that arrives at chip {} link {} at "
          "cycle {} but is never received ({} vectors left on that link at the end of the run)",
          label(a.sender), a.channel, a.departure, end.first, end.second, a.arrival, box.size());
    }
  }

  std::uint64_t transfers() const { return transfers_; }
  std::uint64_t links_used() const { return departures_.size(); }

 private:
  // Departure to arrival of a vector `from` sends on `link` to chip `to`.
  std::int64_t transfer(int from, int link, int to) const {
    if (topology_.domain(from) == topology_.domain(to)) return transfer_;
    std::int64_t late = 0;
    if (jitter_ != nullptr) {
      auto it = jitter_->link_cycles.find({from, link});
      if (it != jitter_->link_cycles.end()) late = it->second;
    }
    return transfer_ + ethernet_ + late;
  }

  std::string label(int a) const {
    const ChipAssignment& chip = program_.chips[a];
    return chip.role.empty() ? fmt::format("chip {}", chip.chip)
                             : fmt::format("chip {} ({})", chip.chip, chip.role);
  }

  const SystemProgram& program_;
  const Topology& topology_;
  std::int64_t occupancy_;
  std::int64_t transfer_;
  std::int64_t ethernet_;
  std::vector<std::int64_t> starts_;
  const DomainJitter* jitter_;
  std::map<std::pair<int, int>, Departure> departures_;         // [(chip, link)] outgoing
  std::map<std::pair<int, int>, std::deque<Arrival>> mailboxes_;  // [(chip, link)] incoming
  std::vector<std::uint8_t> current_;  // [vector_bytes] the latest received payload
  std::uint64_t transfers_ = 0;
};

// One chip's channels in a lock-step run.
class SystemPort final : public LinkPort {
 public:
  SystemPort(LinkLedger& ledger, int assignment, int vector_bytes)
      : ledger_(ledger), assignment_(assignment), vector_bytes_(vector_bytes) {}
  void send(int channel, std::int64_t cycle, const std::uint8_t* vector) override {
    ledger_.send(assignment_, channel, cycle, vector, vector_bytes_);
  }
  const std::uint8_t* receive(int channel, std::int64_t cycle) override {
    return ledger_.receive(assignment_, channel, cycle);
  }

 private:
  LinkLedger& ledger_;
  int assignment_;
  int vector_bytes_;
};

// One Send or Receive iteration of a program, as a timing run records it.
struct LinkEvent {
  std::int64_t cycle = 0;  // program cycle
  int channel = 0;
  bool send = false;
};

class RecordingPort final : public LinkPort {
 public:
  void send(int channel, std::int64_t cycle, const std::uint8_t*) override {
    events.push_back({cycle, channel, true});
  }
  const std::uint8_t* receive(int channel, std::int64_t cycle) override {
    events.push_back({cycle, channel, false});
    return nullptr;
  }
  std::vector<LinkEvent> events;  // in execution order (nondecreasing cycle)
};

// [chip assignment] start cycles with the run's delays.
std::vector<std::int64_t> delayed_starts(const SystemProgram& program, const DomainJitter* jitter) {
  std::vector<std::int64_t> starts;
  for (std::size_t a = 0; a < program.chips.size(); ++a)
    starts.push_back(program.chips[a].start_cycle +
                     (jitter != nullptr && a < jitter->start_delay.size() ? jitter->start_delay[a] : 0));
  return starts;
}

// The prediction is checked against the run without its delays (they only shift chips).
SystemResult combine(const SystemProgram& program, std::vector<SimulationResult> results,
                     const LinkLedger& ledger, std::int64_t occupancy, const DomainJitter* jitter) {
  SystemResult out;
  std::uint64_t undelayed = 0;
  const std::vector<std::int64_t> starts = delayed_starts(program, jitter);
  for (std::size_t a = 0; a < results.size(); ++a) {
    const auto run = static_cast<std::int64_t>(results[a].cycles);
    out.cycles = std::max(out.cycles, static_cast<std::uint64_t>(std::max<std::int64_t>(starts[a] + run, 0)));
    undelayed = std::max(
        undelayed, static_cast<std::uint64_t>(std::max<std::int64_t>(program.chips[a].start_cycle + run, 0)));
  }
  out.chips = std::move(results);
  out.transfers = ledger.transfers();
  out.link_busy_cycles = ledger.transfers() * static_cast<std::uint64_t>(occupancy);
  out.links_used = ledger.links_used();
  if (program.predicted_cycles != 0 && program.predicted_cycles != undelayed)
    fail("the system run lasted {} cycles, but the compiler predicted {}", undelayed,
         program.predicted_cycles);
  return out;
}

}  // namespace

void load_system_memory(const SystemProgram& program, const std::vector<Chip*>& chips) {
  if (chips.size() != program.chips.size())
    fail("the system program places {} chips, but {} are given", program.chips.size(),
         chips.size());
  for (std::size_t a = 0; a < chips.size(); ++a) {
    const ChipAssignment& assignment = program.chips[a];
    if (assignment.program < 0 || assignment.program >= std::ssize(program.programs))
      fail("chip {} runs program {}, but the system program has {}", assignment.chip,
           assignment.program, program.programs.size());
    chips[a]->load_memory(program.programs[assignment.program]);
    Program own;
    own.memory = assignment.memory;
    chips[a]->load_memory(own);
  }
}

SystemSimulator::SystemSimulator(const SystemConfig& system)
    : system_(system),
      topology_(system),
      occupancy_(topology_.link_occupancy_cycles(system.chip.vector_bytes)),
      transfer_(topology_.link_transfer_cycles(system.chip.vector_bytes)),
      ethernet_(topology_.ethernet_latency_cycles()) {
  if (transfer_ < 1 || occupancy_ < 1)
    fail("a vector must take at least one cycle over a link (transfer {}, occupancy {})",
         transfer_, occupancy_);
}

void SystemSimulator::check(const SystemProgram& program, const std::vector<Chip*>& chips,
                            const std::vector<TraceSink*>& traces,
                            std::vector<DecodedProgram>& decoded) const {
  if (!program.system.empty() && program.system != system_.name)
    fail("the system program was compiled for '{}', but this system is '{}'", program.system,
         system_.name);
  if (chips.size() != program.chips.size())
    fail("the system program places {} chips, but {} are given", program.chips.size(),
         chips.size());
  if (!traces.empty() && traces.size() != chips.size())
    fail("{} traces for {} chips (give none or one per chip)", traces.size(), chips.size());
  std::set<int> ids;
  std::vector<int> first_use(program.programs.size(), -1);
  for (std::size_t a = 0; a < chips.size(); ++a) {
    const ChipAssignment& chip = program.chips[a];
    if (chips[a] == nullptr) fail("chip assignment {} has no Chip", a);
    if (chip.chip < 0 || chip.chip >= topology_.physical_chips())
      fail("chip assignment {} places chip {}, but the system has chips 0..{}", a, chip.chip,
           topology_.physical_chips() - 1);
    if (!ids.insert(chip.chip).second) fail("chip {} is placed twice", chip.chip);
    if (chip.program < 0 || chip.program >= std::ssize(program.programs))
      fail("chip {} runs program {}, but the system program has {}", chip.chip, chip.program,
           program.programs.size());
    if (first_use[chip.program] < 0) first_use[chip.program] = static_cast<int>(a);
  }
  decoded.assign(program.programs.size(), DecodedProgram{});
  for (std::size_t p = 0; p < program.programs.size(); ++p)
    if (first_use[p] >= 0) decoded[p] = chips[first_use[p]]->decode(program.programs[p]);

  // Rule (d): every channel a C2C instruction uses leads somewhere.
  for (std::size_t a = 0; a < chips.size(); ++a) {
    const ChipAssignment& chip = program.chips[a];
    const Program& code = program.programs[chip.program];
    const Floorplan& floorplan = chips[a]->floorplan();
    for (std::size_t q = 0; q < code.queues.size(); ++q) {
      const QueueInfo& queue = floorplan.queues()[q];
      if (queue.unit != Unit::C2c || code.queues[q].empty()) continue;
      const int link = chip.channel_links[queue.index];
      const std::string where = fmt::format(
          "chip {} runs {} instruction 0 (cycle {}), but its channel {}", chip.chip, queue.name,
          code.queues[q].front().cycle, queue.index);
      if (link == kUnmappedChannel)
        violation("{} is mapped to no link (a C2C channel needs a link)", where);
      if (link < 0 || link >= topology_.links_per_chip())
        violation("{} is mapped to link {}, which the chip does not have (links 0..{})", where,
                  link, topology_.links_per_chip() - 1);
      if (!topology_.peer(chip.chip, link).wired())
        violation("{} is mapped to link {}, which is not wired", where, link);
    }
  }
}

std::int64_t SystemSimulator::transfer_cycles(int chip, int link) const {
  const LinkEnd peer = topology_.peer(chip, link);
  if (!peer.wired()) fail("link {} of chip {} is not wired", link, chip);
  return topology_.domain(chip) == topology_.domain(peer.chip) ? transfer_ : transfer_ + ethernet_;
}

DomainJitter SystemSimulator::draw_jitter(const SystemProgram& program, std::mt19937_64& rng) const {
  DomainJitter out;
  out.start_delay.assign(program.chips.size(), 0);
  // Domains in the order their first chip starts: a link between two runs from the earlier.
  std::map<int, std::int64_t> first_start;  // [domain] earliest start cycle
  std::map<int, int> assignment_of;         // [chip] assignment index
  for (std::size_t a = 0; a < program.chips.size(); ++a) {
    const ChipAssignment& chip = program.chips[a];
    assignment_of[chip.chip] = static_cast<int>(a);
    const int d = topology_.domain(chip.chip);
    auto [it, fresh] = first_start.emplace(d, chip.start_cycle);
    if (!fresh) it->second = std::min(it->second, chip.start_cycle);
  }
  if (first_start.size() < 2) return out;
  auto before = [&](int d, int e) {
    return std::pair(first_start.at(d), d) < std::pair(first_start.at(e), e);
  };
  // Links across domains, by their upstream end; each carries one draw (in key order).
  struct Crossing { int from_domain, to_domain; };
  std::map<std::pair<int, int>, Crossing> crossings;
  for (const ChipAssignment& chip : program.chips)
    for (int link : chip.channel_links) {
      if (link == kUnmappedChannel || link < 0 || link >= topology_.links_per_chip()) continue;
      const LinkEnd peer = topology_.peer(chip.chip, link);
      if (!peer.wired() || !assignment_of.contains(peer.chip)) continue;
      const int d = topology_.domain(chip.chip), e = topology_.domain(peer.chip);
      if (d == e) continue;
      if (before(d, e)) crossings[{chip.chip, link}] = {d, e};
      else crossings[{peer.chip, peer.link}] = {e, d};
    }
  const double cycles_per_ns = system_.chip.clock_hz / 1e9;
  for (auto& [end, crossing] : crossings)
    out.link_cycles[end] = static_cast<std::int64_t>(
        std::ceil(topology_.sample_ethernet_jitter_ns(rng) * cycles_per_ns));
  // Each domain's delay, upstream first.
  std::vector<int> order;
  for (const auto& [d, start] : first_start) order.push_back(d);
  std::sort(order.begin(), order.end(), before);
  std::map<int, std::int64_t> delay;  // [domain] cycles
  for (int d : order) {
    std::int64_t late = 0;
    for (const auto& [end, crossing] : crossings)
      if (crossing.to_domain == d)
        late = std::max(late, delay[crossing.from_domain] + out.link_cycles.at(end));
    delay[d] = late;
  }
  for (std::size_t a = 0; a < program.chips.size(); ++a)
    out.start_delay[a] = delay[topology_.domain(program.chips[a].chip)];
  return out;
}

SystemResult SystemSimulator::run(const SystemProgram& program, SimulationMode mode,
                                  const std::vector<Chip*>& chips,
                                  const std::vector<TraceSink*>& traces, std::mt19937_64* jitter) {
  std::vector<DecodedProgram> decoded;
  check(program, chips, traces, decoded);
  DomainJitter drawn;
  if (jitter != nullptr) drawn = draw_jitter(program, *jitter);
  const DomainJitter* delays = jitter != nullptr ? &drawn : nullptr;
  if (mode == SimulationMode::Timing && traces.empty())
    return run_once_per_program(program, chips, decoded, delays);
  return run_lock_step(program, mode, chips, traces, decoded, delays);
}

SystemResult SystemSimulator::run_jittered(const SystemProgram& program, SimulationMode mode,
                                           const std::vector<Chip*>& chips,
                                           const DomainJitter& jitter,
                                           const std::vector<TraceSink*>& traces) {
  std::vector<DecodedProgram> decoded;
  check(program, chips, traces, decoded);
  if (jitter.start_delay.size() != program.chips.size())
    fail("the jitter delays {} chips, but the system program places {}", jitter.start_delay.size(),
         program.chips.size());
  if (mode == SimulationMode::Timing && traces.empty())
    return run_once_per_program(program, chips, decoded, &jitter);
  return run_lock_step(program, mode, chips, traces, decoded, &jitter);
}

SystemResult SystemSimulator::run_every_chip(const SystemProgram& program, SimulationMode mode,
                                             const std::vector<Chip*>& chips,
                                             const std::vector<TraceSink*>& traces) {
  std::vector<DecodedProgram> decoded;
  check(program, chips, traces, decoded);
  return run_lock_step(program, mode, chips, traces, decoded, nullptr);
}

SystemResult SystemSimulator::run_lock_step(const SystemProgram& program, SimulationMode mode,
                                            const std::vector<Chip*>& chips,
                                            const std::vector<TraceSink*>& traces,
                                            const std::vector<DecodedProgram>& decoded,
                                            const DomainJitter* jitter) {
  const std::vector<std::int64_t> starts = delayed_starts(program, jitter);
  LinkLedger ledger(program, topology_, occupancy_, transfer_, ethernet_, starts, jitter);
  const int n = static_cast<int>(chips.size());
  std::vector<std::unique_ptr<SystemPort>> ports;
  std::vector<std::unique_ptr<ChipRun>> runs;
  std::int64_t window_start = std::numeric_limits<std::int64_t>::max();
  for (int a = 0; a < n; ++a) {
    const ChipAssignment& chip = program.chips[a];
    ports.push_back(std::make_unique<SystemPort>(ledger, a, chips[a]->config().vector_bytes));
    runs.push_back(std::make_unique<ChipRun>(*chips[a], decoded[chip.program],
                                             program.programs[chip.program], mode,
                                             ports.back().get(),
                                             traces.empty() ? nullptr : traces[a]));
    window_start = std::min(window_start, starts[a]);
  }
  // Windows of `transfer_` system cycles: a vector sent in one arrives after it ends.
  std::vector<bool> active(n, true);
  for (bool any = n > 0; any; window_start += transfer_) {
    any = false;
    for (int a = 0; a < n; ++a) {
      if (!active[a]) continue;
      active[a] = runs[a]->advance(window_start + transfer_ - starts[a]);
      any = any || active[a];
    }
  }
  std::vector<SimulationResult> results;
  for (int a = 0; a < n; ++a) results.push_back(runs[a]->finish());
  ledger.check_all_received();
  return combine(program, std::move(results), ledger, occupancy_, jitter);
}

SystemResult SystemSimulator::run_once_per_program(const SystemProgram& program,
                                                   const std::vector<Chip*>& chips,
                                                   const std::vector<DecodedProgram>& decoded,
                                                   const DomainJitter* jitter) {
  // Each distinct program once, on the first chip that runs it, recording its link events.
  std::vector<SimulationResult> per_program(program.programs.size());
  std::vector<std::vector<LinkEvent>> events(program.programs.size());
  std::vector<bool> done(program.programs.size(), false);
  for (std::size_t a = 0; a < chips.size(); ++a) {
    const int p = program.chips[a].program;
    if (done[p]) continue;
    done[p] = true;
    RecordingPort port;
    per_program[p] =
        chips[a]->run(decoded[p], program.programs[p], SimulationMode::Timing, nullptr, &port);
    events[p] = std::move(port.events);
  }
  // Every chip's events on the system clock, in nondecreasing system cycle.
  struct Replay {
    std::int64_t cycle;  // system cycle
    int assignment;
    const LinkEvent* event;
  };
  const std::vector<std::int64_t> starts = delayed_starts(program, jitter);
  std::vector<Replay> replay;
  for (std::size_t a = 0; a < chips.size(); ++a)
    for (const LinkEvent& e : events[program.chips[a].program])
      replay.push_back({starts[a] + e.cycle, static_cast<int>(a), &e});
  std::stable_sort(replay.begin(), replay.end(),
                   [](const Replay& x, const Replay& y) { return x.cycle < y.cycle; });
  LinkLedger ledger(program, topology_, occupancy_, transfer_, ethernet_, starts, jitter);
  for (const Replay& r : replay) {
    if (r.event->send)
      ledger.send(r.assignment, r.event->channel, r.event->cycle, nullptr, 0);
    else
      ledger.receive(r.assignment, r.event->channel, r.event->cycle);
  }
  ledger.check_all_received();
  std::vector<SimulationResult> results;
  for (const ChipAssignment& chip : program.chips) results.push_back(per_program[chip.program]);
  return combine(program, std::move(results), ledger, occupancy_, jitter);
}

}  // namespace lockstep::lpu
