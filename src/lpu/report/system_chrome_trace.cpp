// write_system_chrome_trace (system_timeline.h).
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "core/chrome_trace.h"
#include "lpu/report/system_timeline.h"

namespace lockstep::lpu {
namespace {

constexpr int kSendThread = kUnitKindCount;  // tid of the "c2c sends" thread (units are 0..6)

}  // namespace

void write_system_chrome_trace(const SystemActivity& a, const SystemProgram& program,
                               std::span<const StageInfo> stages, std::ostream& out) {
  const std::vector<PipelinePlace> places = pipeline_places(program, stages);
  const std::vector<std::size_t> order = picture_order(places);
  const bool detailed_sends = a.chips.size() <= kTraceSendDetailChips;
  core::ChromeTraceWriter w(out, a.clock_hz, core::ChromeTraceWriter::kDefaultMaxEvents,
                          core::TraceArgs().add("clock_hz", a.clock_hz).add("chips", a.chips.size()));
  for (std::size_t sort = 0; sort < order.size(); ++sort) {
    const std::size_t index = order[sort];
    const ChipActivity& chip = a.chips[index];
    const int pid = static_cast<int>(index) + 1;
    const std::string label = places[index].label();
    w.process(pid,
              fmt::format("chip {}{}", chip.chip,
                          label.empty() ? std::string() : fmt::format(" ({})", label)),
              static_cast<std::int64_t>(sort));
    for (int u = 0; u <= kSendThread; ++u)
      w.thread(pid, u, u == kSendThread ? "c2c sends" : unit_name(static_cast<Unit>(u)), u);
    // Busy bins, clipped to the chip's run.
    for (int u = 0; u < kUnitKindCount; ++u) {
      const std::string_view name = unit_name(static_cast<Unit>(u));
      for (std::int64_t i = 0; i < chip.bins(); ++i) {
        const std::uint32_t iterations = chip.busy[u][static_cast<std::size_t>(i)];
        if (iterations == 0) continue;
        const std::int64_t bin = chip.first_bin + i;
        const std::int64_t lo = std::max(bin * a.bin_cycles, chip.start);
        const std::int64_t hi = std::min((bin + 1) * a.bin_cycles, chip.end);
        w.complete(pid, u, name, lo, std::max<std::int64_t>(hi - lo, 1),
                   core::TraceArgs()
                       .add("busy", a.busy_fraction(chip, static_cast<Unit>(u), bin))
                       .add("iterations", iterations));
      }
    }
    // Link sends: each one, or per bin and link.
    if (detailed_sends) {
      for (const LinkSend& s : chip.sends)
        w.complete(pid, kSendThread, fmt::format("send link {}", s.link), s.cycle,
                   a.link_occupancy, core::TraceArgs().add("link", s.link).add("cycle", s.cycle));
    } else {
      std::map<std::pair<std::int64_t, int>, int> per_bin;  // (bin, link) -> sends
      for (const LinkSend& s : chip.sends) ++per_bin[{s.cycle / a.bin_cycles, s.link}];
      for (const auto& [key, count] : per_bin)
        w.complete(pid, kSendThread, fmt::format("sends link {}", key.second),
                   key.first * a.bin_cycles, a.bin_cycles,
                   core::TraceArgs().add("link", key.second).add("sends", count));
    }
  }
  w.close();
}

}  // namespace lockstep::lpu
