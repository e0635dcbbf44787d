// A self-contained SVG line chart (no scripts, no external fonts or styles) that opens in any
// browser: `lockstep plan` draws USD per million tokens against tokens/s per user with it.
//
// Layout: a title on top, the plot box with a light grid at the ticks, x ticks and label below,
// y ticks and label (rotated) on the left, the legend on the right of the plot box. Each series
// is one polyline through its points in the order given, with a circle marker per point and the
// point's label (e.g. "B=8") beside the marker. Colours cycle through a fixed palette
// (kChartPalette). Written with core::SvgDocument (core/svg.h): escaped, well-formed,
// deterministic.
//
// Axes: linear or log10. The range is the data's, widened to whole ticks: linear axes step by
// 1, 2 or 5 x 10^k with about 6 ticks; log axes run from the decade below the smallest value to
// the decade above the largest, ticked at each decade (and at 2 and 5 x 10^k when they span at
// most two decades). A degenerate range (one value) is widened around it.
//
// render_svg throws lockstep::Error when the chart has no point at all, a coordinate is not
// finite, or a log axis gets a value <= 0 (naming the series and the point).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::plan {

enum class AxisScale { Linear, Log };

struct ChartAxis {
  std::string label;  // with its unit: "tokens/s per user"
  AxisScale scale = AxisScale::Linear;
};

struct ChartPoint {
  double x = 0;
  double y = 0;
  std::string label;  // optional, drawn beside the marker: "B=8"
};

struct ChartSeries {
  std::string name;
  std::vector<ChartPoint> points;
};

struct LineChart {
  std::string title;
  ChartAxis x;
  ChartAxis y;
  std::vector<ChartSeries> series;
  int width_px = 960;   // whole picture, clamped to [320, 4000]
  int height_px = 600;  // clamped to [240, 4000]
};

// Colours of series 0, 1, 2, ... (then again from the first).
inline constexpr std::array<std::string_view, 8> kChartPalette = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

// The chart as an SVG 1.1 document.
std::string render_svg(const LineChart& chart);

// The tick values of an axis over [lo, hi] (lo <= hi; lo > 0 on a log axis), ascending; the
// first is <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, AxisScale scale);

// A tick value as text: "0.5", "20", "1000", "1e+06".
std::string format_tick(double v);

}  // namespace lockstep::plan
