// write_system_timeline_svg (system_timeline.h).
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/svg.h"
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

  using core::SvgAttrs;
  core::SvgDocument svg(width, height,
                        SvgAttrs().set("font-family", "sans-serif").set("font-size", 11));
  svg.rect(0, 0, width, height, SvgAttrs().set("fill", "#ffffff"));
  svg.text(left, 22, title, SvgAttrs().set("font-size", 16).set("font-weight", "bold"));
  int stage_count = 0;
  for (const auto& p : places) stage_count = std::max(stage_count, p.stage + 1);
  svg.text(left, 42,
           fmt::format("one run: {:.1f} us = {} cycles on the system clock; {} chips{}; one row "
                       "per chip; bin {} cycles ({:.2f} us)",
                       us_total, a.cycles, n,
                       stage_count > 0 ? fmt::format(" in {} pipeline stages", stage_count)
                                       : std::string(),
                       a.bin_cycles, 1e6 * static_cast<double>(a.bin_cycles) / a.clock_hz),
           SvgAttrs().set("fill", "#444"));

  // Time grid.
  const double step = tick_step(std::max(us_total, 1e-3));
  std::vector<double> tick_x;  // px of each tick, 0 us first
  for (double t = 0; t <= us_total + 1e-9; t += step) tick_x.push_back(left + t / us_total * plot_w);
  svg.open_group(SvgAttrs().set("stroke", "#eeeeee").set("stroke-width", 1));
  for (double x : tick_x) svg.line(x, top, x, plot_bottom);
  svg.close_group();

  // Rows: consecutive bins of one look merged into one rectangle.
  svg.open_group(SvgAttrs().set("shape-rendering", "crispEdges"));
  for (std::size_t i = 0; i < order.size(); ++i) {
    const ChipActivity& chip = a.chips[order[i]];
    svg.open_group(SvgAttrs().set("class", "chip").set("data-chip", chip.chip));
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
        svg.rect(x0, y[i], std::max(x1 - x0, 0.25), row, SvgAttrs().set("fill", colour(run)));
      }
      run = c;
      run_start = b;
    }
    svg.close_group();
  }
  svg.close_group();

  // Stage separators and labels (every few stages, at least 12 px apart).
  if (stage_count > 0) {
    const double stage_h = (plot_bottom - top) / stage_count;
    int every = 1;
    for (int k : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}) {
      every = k;
      if (k * stage_h >= 12) break;
    }
    svg.open_group(SvgAttrs().set("stroke", "#d8d8d8").set("stroke-width", 0.5));
    for (std::size_t i = 1; i < order.size(); ++i)
      if (places[order[i]].stage != places[order[i - 1]].stage)
        svg.line(left - 4, y[i] - 0.5, left + plot_w, y[i] - 0.5);
    svg.close_group();
    svg.open_group(SvgAttrs().set("fill", "#333").set("text-anchor", "end"));
    for (std::size_t i = 0; i < order.size(); ++i) {
      const PipelinePlace& p = places[order[i]];
      if (p.stage < 0 || p.rank != 0 || p.stage % every != 0) continue;
      svg.text(left - 8, y[i] + 9, fmt::format("stage {}", p.stage));
    }
    svg.close_group();
  }
  const double middle = (top + plot_bottom) / 2;
  svg.text(14, middle, "chips, in pipeline order",
           SvgAttrs()
               .set("fill", "#444")
               .set("transform", fmt::format("rotate(-90 14 {})", core::svg_number(middle)))
               .set("text-anchor", "middle"));

  // Axis.
  svg.open_group(SvgAttrs().set("stroke", "#333"));
  svg.line(left, plot_bottom + 2, left + plot_w, plot_bottom + 2);
  for (double x : tick_x) svg.line(x, plot_bottom + 2, x, plot_bottom + 7);
  svg.close_group();
  svg.open_group(SvgAttrs().set("fill", "#333").set("text-anchor", "middle"));
  for (std::size_t k = 0; k < tick_x.size(); ++k)
    svg.text(tick_x[k], plot_bottom + 20, fmt::format("{:g}", static_cast<double>(k) * step));
  svg.text(left + plot_w / 2, plot_bottom + 36, "system time (us)");
  svg.close_group();

  // Legend.
  double lx = left;
  const double ly = plot_bottom + 52;
  svg.open_group(SvgAttrs().set("class", "legend"));
  for (int d = 0; d < static_cast<int>(kStyles.size()); ++d) {
    const Cell swatch{static_cast<Doing>(d), 3};
    const std::string_view legend = kStyles[static_cast<std::size_t>(d)].legend;
    svg.rect(lx, ly, 12, 12,
             SvgAttrs().set("fill", colour(swatch)).set("stroke", "#999").set("stroke-width", 0.5));
    svg.text(lx + 16, ly + 10, legend);
    lx += 26 + 6.2 * static_cast<double>(legend.size());
  }
  svg.text(left, ly + 30,
           "colour: the unit kind busiest in the bin (share of its capacity); lighter = less busy "
           "(<10%, <30%, <60%, more)",
           SvgAttrs().set("fill", "#444"));
  svg.close_group();
  out << svg.finish();
}

}  // namespace lockstep::lpu
