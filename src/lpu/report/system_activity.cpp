#include "lpu/report/system_activity.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "core/error.h"
#include "lpu/arch/floorplan.h"
#include "lpu/sim/link_port.h"
#include "lpu/arch/topology.h"

namespace lockstep::lpu {
namespace {

// One instruction as it ran: `repeat` iterations of `unit`, from `cycle`, `stride` apart.
struct IssueRun {
  std::int64_t cycle = 0;
  std::uint32_t repeat = 1;
  std::uint16_t stride = 1;
  Unit unit = Unit::Mem;
};

// A TraceSink keeping only what binning needs.
class IssueRecorder : public TraceSink {
 public:
  std::vector<IssueRun> runs;

  void begin_run(const ChipConfig&, const Floorplan& floorplan, const Program&) override {
    floorplan_ = &floorplan;
  }
  void instruction(int queue, int, const Instruction& instruction, int) override {
    runs.push_back({static_cast<std::int64_t>(instruction.cycle), instruction.repeat,
                    instruction.stride, floorplan_->queues()[queue].unit});
  }
  void streams_in_use(std::uint64_t, int, int) override {}
  void end_run(std::uint64_t) override {}

 private:
  const Floorplan* floorplan_ = nullptr;
};

struct ChannelSend {
  std::int64_t cycle = 0;  // program cycle
  int channel = 0;
};

// Accepts every Send (recording it) and answers every Receive with no data (timing mode).
class RecordingPort : public LinkPort {
 public:
  std::vector<ChannelSend> sends;
  void send(int channel, std::int64_t cycle, const std::uint8_t*) override {
    sends.push_back({cycle, channel});
  }
  const std::uint8_t* receive(int, std::int64_t) override { return nullptr; }
};

struct ProgramRecord {
  SimulationResult result;
  std::vector<IssueRun> runs;
  std::vector<ChannelSend> sends;
};

// Adds the iterations of `run`, shifted by `start`, into the chip's bins.
void bin_run(const IssueRun& run, std::int64_t start, std::int64_t bin_cycles, ChipActivity& chip) {
  auto& bins = chip.busy[static_cast<int>(run.unit)];
  std::int64_t t = start + run.cycle;
  std::int64_t left = run.repeat;
  while (left > 0) {
    const std::int64_t bin = t / bin_cycles;
    const std::int64_t room = (bin + 1) * bin_cycles - t;  // cycles to the bin's end
    const std::int64_t k = std::min(left, (room + run.stride - 1) / run.stride);
    bins[static_cast<std::size_t>(bin - chip.first_bin)] += static_cast<std::uint32_t>(k);
    left -= k;
    t += k * run.stride;
  }
}

}  // namespace

double SystemActivity::busy_fraction(const ChipActivity& chip, Unit unit, std::int64_t bin) const {
  const std::int64_t i = bin - chip.first_bin;
  if (i < 0 || i >= chip.bins()) return 0.0;
  const int u = static_cast<int>(unit);
  return static_cast<double>(chip.busy[u][static_cast<std::size_t>(i)]) /
         (static_cast<double>(bin_cycles) * std::max(queues[u], 1));
}

double SystemActivity::send_fraction(const ChipActivity& chip, std::int64_t bin) const {
  const auto lo = std::lower_bound(chip.sends.begin(), chip.sends.end(), bin * bin_cycles,
                                   [](const LinkSend& s, std::int64_t c) { return s.cycle < c; });
  const auto hi = std::lower_bound(lo, chip.sends.end(), (bin + 1) * bin_cycles,
                                   [](const LinkSend& s, std::int64_t c) { return s.cycle < c; });
  std::vector<std::int64_t> per_link;  // [link] sends in the bin
  for (auto it = lo; it != hi; ++it) {
    const auto link = static_cast<std::size_t>(std::max(it->link, 0));
    if (link >= per_link.size()) per_link.resize(link + 1, 0);
    ++per_link[link];
  }
  const std::int64_t busiest = per_link.empty() ? 0 : *std::max_element(per_link.begin(), per_link.end());
  return static_cast<double>(busiest) * static_cast<double>(link_occupancy) /
         static_cast<double>(bin_cycles);
}

std::int64_t choose_bin_cycles(std::uint64_t cycles, std::int64_t target_bins) {
  const auto c = static_cast<std::int64_t>(cycles);
  return std::max<std::int64_t>(1, (c + target_bins - 1) / std::max<std::int64_t>(target_bins, 1));
}

SystemActivity record_system_activity(const SystemProgram& program, const SystemConfig& system,
                                      std::int64_t bin_cycles) {
  if (bin_cycles < 0) fail("the activity bin width must be positive, not {} cycles", bin_cycles);
  Chip chip(system.chip);
  std::vector<ProgramRecord> records(program.programs.size());
  for (std::size_t p = 0; p < program.programs.size(); ++p) {
    IssueRecorder recorder;
    RecordingPort port;
    records[p].result = chip.run(program.programs[p], SimulationMode::Timing, &recorder, &port);
    records[p].runs = std::move(recorder.runs);
    records[p].sends = std::move(port.sends);
  }

  SystemActivity a;
  a.clock_hz = system.chip.clock_hz;
  a.link_occupancy = std::max<std::int64_t>(
      1, Topology(system).link_occupancy_cycles(system.chip.vector_bytes));
  for (const auto& q : chip.floorplan().queues()) ++a.queues[static_cast<int>(q.unit)];
  for (const auto& r : records) a.programs.push_back(r.result);
  for (const auto& c : program.chips) {
    if (c.program < 0 || static_cast<std::size_t>(c.program) >= records.size())
      fail("chip {} runs program {}, but the system program has {}", c.chip, c.program,
           records.size());
    a.cycles = std::max(a.cycles, static_cast<std::uint64_t>(c.start_cycle) +
                                      records[static_cast<std::size_t>(c.program)].result.cycles);
  }
  a.bin_cycles = bin_cycles > 0 ? bin_cycles : choose_bin_cycles(a.cycles);

  a.chips.reserve(program.chips.size());
  for (const auto& c : program.chips) {
    const ProgramRecord& r = records[static_cast<std::size_t>(c.program)];
    ChipActivity chip_activity;
    chip_activity.chip = c.chip;
    chip_activity.program = c.program;
    chip_activity.start = c.start_cycle;
    chip_activity.end = c.start_cycle + static_cast<std::int64_t>(r.result.cycles);
    chip_activity.first_bin = c.start_cycle / a.bin_cycles;
    const std::int64_t last_bin = std::max(chip_activity.end - 1, c.start_cycle) / a.bin_cycles;
    for (auto& bins : chip_activity.busy)
      bins.assign(static_cast<std::size_t>(last_bin - chip_activity.first_bin + 1), 0);
    for (const IssueRun& run : r.runs) bin_run(run, c.start_cycle, a.bin_cycles, chip_activity);
    chip_activity.sends.reserve(r.sends.size());
    for (const ChannelSend& s : r.sends)
      chip_activity.sends.push_back(
          {c.start_cycle + s.cycle, c.channel_links[static_cast<std::size_t>(s.channel)]});
    std::stable_sort(chip_activity.sends.begin(), chip_activity.sends.end(),
                     [](const LinkSend& x, const LinkSend& y) { return x.cycle < y.cycle; });
    a.chips.push_back(std::move(chip_activity));
  }
  return a;
}

}  // namespace lockstep::lpu

namespace lockstep::lpu {

std::string PipelinePlace::label() const {
  return stage < 0 ? std::string() : fmt::format("stage {} rank {}", stage, rank);
}

std::vector<PipelinePlace> pipeline_places(const SystemProgram& program, std::span<const StageInfo> stages) {
  std::unordered_map<int, PipelinePlace> by_chip;
  for (std::size_t s = 0; s < stages.size(); ++s)
    for (std::size_t r = 0; r < stages[s].chips.size(); ++r)
      by_chip[stages[s].chips[r]] = {static_cast<int>(s), static_cast<int>(r)};
  std::vector<PipelinePlace> places;
  places.reserve(program.chips.size());
  for (const auto& c : program.chips) {
    const auto it = by_chip.find(c.chip);
    places.push_back(it == by_chip.end() ? PipelinePlace{} : it->second);
  }
  return places;
}

std::vector<std::size_t> picture_order(const std::vector<PipelinePlace>& places) {
  std::vector<std::size_t> order(places.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](std::size_t i) {
    const PipelinePlace& p = places[i];
    return std::pair(p.stage < 0 ? std::numeric_limits<int>::max() : p.stage, p.rank);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return key(x) < key(y); });
  return order;
}

}  // namespace lockstep::lpu
