#include "plan/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/svg.h"

namespace lockstep::plan {
namespace {

// Margins of the plot box inside the picture, px.
constexpr double kLeft = 90;
constexpr double kTop = 50;
constexpr double kBottom = 60;
constexpr double kLegendWidth = 220;
constexpr double kMarkerRadius = 3.5;

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
};

// Maps a data value to a pixel along one axis.
struct Scale {
  AxisScale kind;
  double lo, hi;      // data range (ticks' ends)
  double from, to;    // pixel range
  double operator()(double v) const {
    const double t = kind == AxisScale::Log ? (std::log10(v) - std::log10(lo)) /
                                                  (std::log10(hi) - std::log10(lo))
                                            : (v - lo) / (hi - lo);
    return from + t * (to - from);
  }
};

double nice_step(double span) {
  const double raw = span / 6.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * magnitude >= raw) return m * magnitude;
  return 10.0 * magnitude;
}

}  // namespace

std::string format_tick(double v) {
  if (v == 0) return "0";
  return fmt::format("{:.6g}", v);
}

std::vector<double> nice_ticks(double lo, double hi, AxisScale scale) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
    fail("cannot tick the axis range [{}, {}]", lo, hi);
  std::vector<double> ticks;
  if (scale == AxisScale::Log) {
    if (lo <= 0) fail("a log axis cannot show {}", lo);
    int first = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
    int last = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
    if (last <= first) last = first + 1;
    const bool fine = last - first <= 2;
    for (int e = first; e <= last; ++e) {
      const double decade = std::pow(10.0, e);
      ticks.push_back(decade);
      if (fine && e < last) {
        ticks.push_back(2 * decade);
        ticks.push_back(5 * decade);
      }
    }
    return ticks;
  }
  if (hi - lo < std::max(std::abs(lo), std::abs(hi)) * 1e-12 || hi == lo) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo);
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  for (double i = first; i <= last && ticks.size() < 100; i += 1) {
    const double v = i * step;
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::string render_svg(const LineChart& chart) {
  Range xr, yr;
  for (const auto& s : chart.series)
    for (const auto& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y))
        fail("chart series '{}' has a point that is not a finite number", s.name);
      if ((chart.x.scale == AxisScale::Log && p.x <= 0) ||
          (chart.y.scale == AxisScale::Log && p.y <= 0))
        fail("chart series '{}' has the point ({}, {}), which a log axis cannot show", s.name,
             p.x, p.y);
      xr.lo = std::min(xr.lo, p.x);
      xr.hi = std::max(xr.hi, p.x);
      yr.lo = std::min(yr.lo, p.y);
      yr.hi = std::max(yr.hi, p.y);
    }
  if (!(xr.lo <= xr.hi)) fail("chart '{}' has no points to draw", chart.title);

  const double width = std::clamp(chart.width_px, 320, 4000);
  const double height = std::clamp(chart.height_px, 240, 4000);
  const std::vector<double> xt = nice_ticks(xr.lo, xr.hi, chart.x.scale);
  const std::vector<double> yt = nice_ticks(yr.lo, yr.hi, chart.y.scale);
  const double box_left = kLeft, box_top = kTop;
  // The legend is as wide as its longest name needs (about 7 px per character at 12 px).
  std::size_t longest = 0;
  for (const auto& series : chart.series) longest = std::max(longest, series.name.size());
  const double legend_width = std::min(std::max(kLegendWidth, 60.0 + 7.0 * static_cast<double>(longest)), width / 2.0);
  const double box_right = width - legend_width, box_bottom = height - kBottom;
  const Scale sx{chart.x.scale, xt.front(), xt.back(), box_left, box_right};
  const Scale sy{chart.y.scale, yt.front(), yt.back(), box_bottom, box_top};

  using core::SvgAttrs;
  core::SvgDocument svg(width, height,
                        SvgAttrs().set("font-family", "sans-serif").set("font-size", 12), true);
  svg.title(chart.title);
  svg.rect(0, 0, width, height, SvgAttrs().set("fill", "white"));
  svg.text((box_left + box_right) / 2, 28, chart.title,
           SvgAttrs().set("text-anchor", "middle").set("font-size", 16).set("font-weight", "bold"));

  // Grid and ticks.
  svg.open_group(SvgAttrs().set("class", "grid").set("stroke", "#dddddd").set("stroke-width", 1));
  for (double v : xt) svg.line(sx(v), box_top, sx(v), box_bottom);
  for (double v : yt) svg.line(box_left, sy(v), box_right, sy(v));
  svg.close_group();
  svg.rect(box_left, box_top, box_right - box_left, box_bottom - box_top,
           SvgAttrs().set("class", "plot").set("fill", "none").set("stroke", "black"));
  svg.open_group(SvgAttrs().set("class", "ticks"));
  for (double v : xt)
    svg.text(sx(v), box_bottom + 16, format_tick(v), SvgAttrs().set("text-anchor", "middle"));
  for (double v : yt)
    svg.text(box_left - 6, sy(v) + 4, format_tick(v), SvgAttrs().set("text-anchor", "end"));
  svg.close_group();
  svg.text((box_left + box_right) / 2, height - 18,
           chart.x.label + (chart.x.scale == AxisScale::Log ? " (log scale)" : ""),
           SvgAttrs().set("text-anchor", "middle"));
  const double y_label_x = 22, y_label_y = (box_top + box_bottom) / 2;
  svg.text(y_label_x, y_label_y,
           chart.y.label + (chart.y.scale == AxisScale::Log ? " (log scale)" : ""),
           SvgAttrs().set("text-anchor", "middle").set("transform", fmt::format("rotate(-90 {} {})",
                                                           core::svg_number(y_label_x),
                                                           core::svg_number(y_label_y))));

  // Series and legend.
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const std::string_view colour = kChartPalette[i % kChartPalette.size()];
    svg.open_group(SvgAttrs().set("class", "series").set("stroke", colour).set("fill", colour),
                   s.name);
    if (!s.points.empty()) {
      std::vector<core::SvgPoint> line;
      for (const auto& p : s.points) line.push_back({sx(p.x), sy(p.y)});
      svg.polyline(line, SvgAttrs().set("fill", "none").set("stroke-width", 2));
    }
    for (const auto& p : s.points) {
      svg.circle(sx(p.x), sy(p.y), kMarkerRadius);
      if (!p.label.empty())
        svg.text(sx(p.x) + 5, sy(p.y) - 5, p.label,
                 SvgAttrs().set("stroke", "none").set("font-size", 10));
    }
    svg.close_group();
    const double ly = box_top + 10 + 20.0 * static_cast<double>(i);
    svg.open_group(SvgAttrs().set("class", "legend"));
    svg.line(box_right + 15, ly, box_right + 45, ly,
             SvgAttrs().set("stroke", colour).set("stroke-width", 2));
    svg.circle(box_right + 30, ly, kMarkerRadius, SvgAttrs().set("fill", colour));
    svg.text(box_right + 52, ly + 4, s.name);
    svg.close_group();
  }
  return svg.finish();
}

}  // namespace lockstep::plan
