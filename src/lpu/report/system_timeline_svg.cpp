// write_system_timeline_svg (system_timeline.h).
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "lpu/report/system_timeline.h"

namespace lockstep::lpu {
namespace {

// What a chip does in a bin, as the picture colours it.
enum class Doing : std::uint8_t { Mxm, Vxm, Sxm, Mem, Links, Idle, Outside };
constexpr int kDoingColoured = 5;  // Mxm .. Links have shades

struct DoingStyle {
  const char* legend;
  int r, g, b;
};
constexpr std::array<DoingStyle, 7> kStyles{{
    {"MXM (matrix units)", 0x2f, 0x5f, 0xc8},
    {"VXM (vector ALUs)", 0xe0, 0x7b, 0x10},
    {"SXM (shifts, permutes)", 0x8e, 0x44, 0xad},
    {"MEM only (moving data)", 0x2e, 0x8b, 0x57},
    {"links (C2C sends)", 0xd6, 0x27, 0x28},
    {"running, issuing nothing", 0xe4, 0xe4, 0xe4},
    {"not running", 0xff, 0xff, 0xff},
}};
constexpr std::array<double, 4> kShade{0.3, 0.5, 0.75, 1.0};  // share of the full colour

struct Cell {
  Doing doing = Doing::Outside;
  int level = 0;  // 0..3, for coloured kinds
  bool operator==(const Cell&) const = default;
};

int level_of(double fraction) {
  return fraction < 0.1 ? 0 : fraction < 0.3 ? 1 : fraction < 0.6 ? 2 : 3;
}

Cell classify(const SystemActivity& a, const ChipActivity& chip, std::int64_t bin) {
  const std::int64_t lo = bin * a.bin_cycles, hi = lo + a.bin_cycles;
  if (hi <= chip.start || lo >= chip.end) return {};
  const auto share_of = [&](Unit u) { return a.busy_fraction(chip, u, bin); };
  const std::array<double, kDoingColoured> share{
      std::max({share_of(Unit::MxmLoad), share_of(Unit::MxmCompute), share_of(Unit::MxmEmit)}),
      share_of(Unit::Vxm), share_of(Unit::Sxm), share_of(Unit::Mem), a.send_fraction(chip, bin)};
  const auto best = std::max_element(share.begin(), share.end());
  if (*best <= 0) return {Doing::Idle, 0};
  return {static_cast<Doing>(best - share.begin()), level_of(*best)};
}

std::string colour(const Cell& c) {
  const DoingStyle& s = kStyles[static_cast<int>(c.doing)];
  const double t = static_cast<int>(c.doing) < kDoingColoured ? kShade[c.level] : 1.0;
  auto mix = [t](int v) { return static_cast<int>(std::lround(255 - t * (255 - v))); };
  return fmt::format("#{:02x}{:02x}{:02x}", mix(s.r), mix(s.g), mix(s.b));
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

// A round tick step (1, 2 or 5 x 10^k) giving at most ~10 ticks over `span`.
double tick_step(double span) {
  const double raw = span / 10;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

}  // namespace

void write_system_timeline_svg(const SystemActivity& a, const SystemProgram& program,
                               std::span<const StageInfo> stages, const std::string& title,
                               std::ostream& out) {
  const std::vector<PipelinePlace> places = pipeline_places(program, stages);
  const std::vector<std::size_t> order = picture_order(places);
  const std::size_t n = a.chips.size();
  const int row = n <= 32 ? 12 : n <= 128 ? 5 : 2;  // px per chip
  const int gap = 1;                                // px between stages
  const double left = 110, plot_w = 1200, top = 64;
  const double us_total = 1e6 * static_cast<double>(a.cycles) / a.clock_hz;
  const std::int64_t bins = a.bin_count();

  // Row y of each picture position, with a gap where the stage changes.
  std::vector<double> y(order.size());
  double cursor = top;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i > 0 && places[order[i]].stage != places[order[i - 1]].stage) cursor += gap;
    y[i] = cursor;
    cursor += row;
  }
  const double plot_bottom = cursor;
  const double width = left + plot_w + 24;
  const double height = plot_bottom + 96;
  const double x_per_cycle = plot_w / std::max<double>(1.0, static_cast<double>(a.cycles));

  out << fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\" font-size=\"11\">\n",
      width, height, width, height);
  out << fmt::format("<rect width=\"{:.0f}\" height=\"{:.0f}\" fill=\"#ffffff\"/>\n", width, height);
  out << fmt::format("<text x=\"{}\" y=\"22\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
                     left, xml_escape(title));
  int stage_count = 0;
  for (const auto& p : places) stage_count = std::max(stage_count, p.stage + 1);
  out << fmt::format(
      "<text x=\"{}\" y=\"42\" fill=\"#444\">one run: {:.1f} us = {} cycles on the system clock; "
      "{} chips{}; one row per chip; bin {} cycles ({:.2f} us)</text>\n",
      left, us_total, a.cycles, n,
      stage_count > 0 ? fmt::format(" in {} pipeline stages", stage_count) : std::string(),
      a.bin_cycles, 1e6 * static_cast<double>(a.bin_cycles) / a.clock_hz);

  // Time grid and axis.
  const double step = tick_step(std::max(us_total, 1e-3));
  out << "<g stroke=\"#eeeeee\" stroke-width=\"1\">\n";
  for (double t = 0; t <= us_total + 1e-9; t += step) {
    const double x = left + t / us_total * plot_w;
    out << fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\"/>\n", x, top, x,
                       plot_bottom);
  }
  out << "</g>\n";

  // Rows: consecutive bins of one look merged into one rectangle.
  out << "<g shape-rendering=\"crispEdges\">\n";
  for (std::size_t i = 0; i < order.size(); ++i) {
    const ChipActivity& chip = a.chips[order[i]];
    out << fmt::format("<g class=\"chip\" data-chip=\"{}\">", chip.chip);
    const std::int64_t first = chip.first_bin, last = std::min(first + chip.bins(), bins);
    std::int64_t run_start = first;
    Cell run = classify(a, chip, first);
    for (std::int64_t b = first + 1; b <= last; ++b) {
      const Cell c = b < last ? classify(a, chip, b) : Cell{};
      if (b < last && c == run) continue;
      if (run.doing != Doing::Outside) {
        const double x0 = left + std::max<double>(static_cast<double>(run_start * a.bin_cycles),
                                                  static_cast<double>(chip.start)) * x_per_cycle;
        const double x1 = left + std::min<double>(static_cast<double>(b * a.bin_cycles),
                                                  static_cast<double>(chip.end)) * x_per_cycle;
        out << fmt::format("<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\"/>",
                           x0, y[i], std::max(x1 - x0, 0.25), row, colour(run));
      }
      run = c;
      run_start = b;
    }
    out << "</g>\n";
  }
  out << "</g>\n";

  // Stage separators and labels (every few stages, at least 12 px apart).
  if (stage_count > 0) {
    const double stage_h = (plot_bottom - top) / stage_count;
    int every = 1;
    for (int k : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}) {
      every = k;
      if (k * stage_h >= 12) break;
    }
    out << "<g stroke=\"#d8d8d8\" stroke-width=\"0.5\">\n";
    for (std::size_t i = 1; i < order.size(); ++i)
      if (places[order[i]].stage != places[order[i - 1]].stage)
        out << fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\"/>\n", left - 4,
                           y[i] - 0.5, left + plot_w, y[i] - 0.5);
    out << "</g>\n<g fill=\"#333\" text-anchor=\"end\">\n";
    for (std::size_t i = 0; i < order.size(); ++i) {
      const PipelinePlace& p = places[order[i]];
      if (p.stage < 0 || p.rank != 0 || p.stage % every != 0) continue;
      out << fmt::format("<text x=\"{}\" y=\"{:.1f}\">stage {}</text>\n", left - 8, y[i] + 9,
                         p.stage);
    }
    out << "</g>\n";
  }
  out << fmt::format("<text x=\"14\" y=\"{:.0f}\" fill=\"#444\" transform=\"rotate(-90 14 {:.0f})\" "
                     "text-anchor=\"middle\">chips, in pipeline order</text>\n",
                     (top + plot_bottom) / 2, (top + plot_bottom) / 2);

  // Axis.
  out << fmt::format("<g stroke=\"#333\"><line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\"/>\n",
                     left, plot_bottom + 2, left + plot_w, plot_bottom + 2);
  for (double t = 0; t <= us_total + 1e-9; t += step) {
    const double x = left + t / us_total * plot_w;
    out << fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n", x,
                       plot_bottom + 2, x, plot_bottom + 7);
  }
  out << "</g>\n<g fill=\"#333\" text-anchor=\"middle\">\n";
  for (double t = 0; t <= us_total + 1e-9; t += step) {
    const double x = left + t / us_total * plot_w;
    out << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{:g}</text>\n", x, plot_bottom + 20, t);
  }
  out << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">system time (us)</text>\n</g>\n",
                     left + plot_w / 2, plot_bottom + 36);

  // Legend.
  double lx = left;
  const double ly = plot_bottom + 52;
  out << "<g class=\"legend\">\n";
  for (int d = 0; d < static_cast<int>(kStyles.size()); ++d) {
    const Cell swatch{static_cast<Doing>(d), 3};
    out << fmt::format("<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"12\" height=\"12\" fill=\"{}\" "
                       "stroke=\"#999\" stroke-width=\"0.5\"/>",
                       lx, ly, colour(swatch));
    out << fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\">{}</text>\n", lx + 16, ly + 10,
                       kStyles[static_cast<std::size_t>(d)].legend);
    lx += 26 + 6.2 * static_cast<double>(std::string(kStyles[static_cast<std::size_t>(d)].legend).size());
  }
  out << fmt::format("<text x=\"{}\" y=\"{:.0f}\" fill=\"#444\">colour: the unit kind busiest in the "
                     "bin (share of its capacity); lighter = less busy (&lt;10%, &lt;30%, &lt;60%, "
                     "more)</text>\n",
                     left, ly + 30);
  out << "</g>\n</svg>\n";
}

}  // namespace lockstep::lpu
