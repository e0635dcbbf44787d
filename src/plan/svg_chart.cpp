#include "plan/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

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

std::string px(double v) { return fmt::format("{:.1f}", v); }

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

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

  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
      width, height);
  o += fmt::format("<title>{}</title>\n", xml_escape(chart.title));
  o += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"white\"/>\n", width,
                   height);
  o += fmt::format(
      "<text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" "
      "font-weight=\"bold\">{}</text>\n",
      px((box_left + box_right) / 2), xml_escape(chart.title));

  // Grid and ticks.
  o += "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double v : xt)
    o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", px(sx(v)),
                     px(box_top), px(box_bottom));
  for (double v : yt)
    o += fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\"/>\n", px(sy(v)),
                     px(box_left), px(box_right));
  o += "</g>\n";
  o += fmt::format(
      "<rect class=\"plot\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
      "stroke=\"black\"/>\n",
      px(box_left), px(box_top), px(box_right - box_left), px(box_bottom - box_top));
  o += "<g class=\"ticks\">\n";
  for (double v : xt)
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px(sx(v)),
                     px(box_bottom + 16), xml_escape(format_tick(v)));
  for (double v : yt)
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                     px(box_left - 6), px(sy(v) + 4), xml_escape(format_tick(v)));
  o += "</g>\n";
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}{}</text>\n",
                   px((box_left + box_right) / 2), px(height - 18), xml_escape(chart.x.label),
                   chart.x.scale == AxisScale::Log ? " (log scale)" : "");
  o += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}{3}"
      "</text>\n",
      px(22), px((box_top + box_bottom) / 2), xml_escape(chart.y.label),
      chart.y.scale == AxisScale::Log ? " (log scale)" : "");

  // Series and legend.
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const std::string_view colour = kChartPalette[i % kChartPalette.size()];
    o += fmt::format("<g class=\"series\" stroke=\"{0}\" fill=\"{0}\">\n", colour);
    o += fmt::format("<title>{}</title>\n", xml_escape(s.name));
    if (!s.points.empty()) {
      o += "<polyline fill=\"none\" stroke-width=\"2\" points=\"";
      for (std::size_t k = 0; k < s.points.size(); ++k)
        o += fmt::format("{}{},{}", k ? " " : "", px(sx(s.points[k].x)), px(sy(s.points[k].y)));
      o += "\"/>\n";
    }
    for (const auto& p : s.points) {
      o += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\"/>\n", px(sx(p.x)), px(sy(p.y)),
                       kMarkerRadius);
      if (!p.label.empty())
        o += fmt::format(
            "<text x=\"{}\" y=\"{}\" stroke=\"none\" font-size=\"10\">{}</text>\n",
            px(sx(p.x) + 5), px(sy(p.y) - 5), xml_escape(p.label));
    }
    o += "</g>\n";
    const double ly = box_top + 10 + 20.0 * static_cast<double>(i);
    o += fmt::format(
        "<g class=\"legend\"><line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" "
        "stroke-width=\"2\"/><circle cx=\"{4}\" cy=\"{1}\" r=\"{5}\" fill=\"{3}\"/>"
        "<text x=\"{6}\" y=\"{7}\">{8}</text></g>\n",
        px(box_right + 15), px(ly), px(box_right + 45), colour, px(box_right + 30), kMarkerRadius,
        px(box_right + 52), px(ly + 4), xml_escape(s.name));
  }
  o += "</svg>\n";
  return o;
}

}  // namespace lockstep::plan
