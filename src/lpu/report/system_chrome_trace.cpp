// write_system_chrome_trace (system_timeline.h).
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "lpu/report/system_timeline.h"

namespace lockstep::lpu {
namespace {

constexpr int kSendThread = kUnitKindCount;  // tid of the "c2c sends" thread (units are 0..6)

class EventWriter {
 public:
  explicit EventWriter(std::ostream& out) : out_(out) { out_ << "{\"traceEvents\":[\n"; }
  void event(const std::string& json) {
    out_ << (first_ ? "" : ",\n") << json;
    first_ = false;
  }
  void close() { out_ << "\n],\"displayTimeUnit\":\"ns\"}\n"; }

 private:
  std::ostream& out_;
  bool first_ = true;
};

}  // namespace

void write_system_chrome_trace(const SystemActivity& a, const SystemProgram& program,
                               std::span<const StageInfo> stages, std::ostream& out) {
  const std::vector<PipelinePlace> places = pipeline_places(program, stages);
  const std::vector<std::size_t> order = picture_order(places);
  const double us_per_cycle = 1e6 / a.clock_hz;
  const bool detailed_sends = a.chips.size() <= kTraceSendDetailChips;
  EventWriter w(out);
  for (std::size_t sort = 0; sort < order.size(); ++sort) {
    const std::size_t index = order[sort];
    const ChipActivity& chip = a.chips[index];
    const int pid = static_cast<int>(index) + 1;
    const std::string label = places[index].label();
    w.event(fmt::format(
        R"({{"ph":"M","pid":{},"name":"process_name","args":{{"name":"chip {}{}"}}}})", pid,
        chip.chip, label.empty() ? std::string() : fmt::format(" ({})", label)));
    w.event(fmt::format(R"({{"ph":"M","pid":{},"name":"process_sort_index","args":{{"sort_index":{}}}}})",
                        pid, sort));
    for (int u = 0; u <= kSendThread; ++u) {
      const std::string name =
          u == kSendThread ? std::string("c2c sends") : std::string(unit_name(static_cast<Unit>(u)));
      w.event(fmt::format(
          R"({{"ph":"M","pid":{},"tid":{},"name":"thread_name","args":{{"name":"{}"}}}})", pid, u,
          name));
      w.event(fmt::format(
          R"({{"ph":"M","pid":{},"tid":{},"name":"thread_sort_index","args":{{"sort_index":{}}}}})",
          pid, u, u));
    }
    // Busy bins, clipped to the chip's run.
    for (int u = 0; u < kUnitKindCount; ++u) {
      const std::string name(unit_name(static_cast<Unit>(u)));
      for (std::int64_t i = 0; i < chip.bins(); ++i) {
        const std::uint32_t iterations = chip.busy[u][static_cast<std::size_t>(i)];
        if (iterations == 0) continue;
        const std::int64_t bin = chip.first_bin + i;
        const std::int64_t lo = std::max(bin * a.bin_cycles, chip.start);
        const std::int64_t hi = std::min((bin + 1) * a.bin_cycles, chip.end);
        w.event(fmt::format(
            R"({{"ph":"X","pid":{},"tid":{},"name":"{}","ts":{:.4f},"dur":{:.4f},"args":{{"busy":{:.4f},"iterations":{}}}}})",
            pid, u, name, static_cast<double>(lo) * us_per_cycle,
            static_cast<double>(std::max<std::int64_t>(hi - lo, 1)) * us_per_cycle,
            a.busy_fraction(chip, static_cast<Unit>(u), bin), iterations));
      }
    }
    // Link sends: each one, or per bin and link.
    if (detailed_sends) {
      for (const LinkSend& s : chip.sends)
        w.event(fmt::format(
            R"({{"ph":"X","pid":{},"tid":{},"name":"send link {}","ts":{:.4f},"dur":{:.4f},"args":{{"link":{},"cycle":{}}}}})",
            pid, kSendThread, s.link, static_cast<double>(s.cycle) * us_per_cycle,
            static_cast<double>(a.link_occupancy) * us_per_cycle, s.link, s.cycle));
    } else {
      std::map<std::pair<std::int64_t, int>, int> per_bin;  // (bin, link) -> sends
      for (const LinkSend& s : chip.sends) ++per_bin[{s.cycle / a.bin_cycles, s.link}];
      for (const auto& [key, count] : per_bin)
        w.event(fmt::format(
            R"({{"ph":"X","pid":{},"tid":{},"name":"sends link {}","ts":{:.4f},"dur":{:.4f},"args":{{"link":{},"sends":{}}}}})",
            pid, kSendThread, key.second,
            static_cast<double>(key.first * a.bin_cycles) * us_per_cycle,
            static_cast<double>(a.bin_cycles) * us_per_cycle, key.second, count));
    }
  }
  w.close();
}

}  // namespace lockstep::lpu
