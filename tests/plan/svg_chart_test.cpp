// The SVG line chart: escaping, nice ticks, and a rendered chart that is well-formed XML with
// every series, its colour and its points inside the plot box.
#include "plan/svg_chart.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/expect_error.h"

namespace lockstep::plan {
namespace {

// A small structural XML check: every element closes in order, attributes are quoted, '&' only
// starts an entity, and there is exactly one root element. Returns "" or what is wrong.
std::string xml_problem(const std::string& doc) {
  std::vector<std::string> open;
  int roots = 0;
  std::size_t i = 0;
  while (i < doc.size()) {
    const char c = doc[i];
    if (c == '&') {
      static const std::regex entity("^&(amp|lt|gt|quot|apos|#[0-9]+);");
      if (!std::regex_search(doc.substr(i, 8), entity)) return "bare & at " + std::to_string(i);
      ++i;
      continue;
    }
    if (c == '>') return "bare > at " + std::to_string(i);
    if (c != '<') {
      ++i;
      continue;
    }
    if (doc.compare(i, 2, "<?") == 0) {
      const auto end = doc.find("?>", i);
      if (end == std::string::npos) return "unclosed <?";
      i = end + 2;
      continue;
    }
    // A tag: scan to its '>' outside quotes.
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < doc.size(); ++j) {
      if (quote) {
        if (doc[j] == quote) quote = 0;
        else if (doc[j] == '<') return "< inside an attribute at " + std::to_string(j);
      } else if (doc[j] == '"' || doc[j] == '\'') {
        quote = doc[j];
      } else if (doc[j] == '>') {
        break;
      }
    }
    if (j == doc.size()) return "unclosed tag at " + std::to_string(i);
    const std::string tag = doc.substr(i + 1, j - i - 1);
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "</" + name + "> does not close the open element";
      open.pop_back();
    } else {
      static const std::regex start(R"(^([A-Za-z_][\w.-]*)(\s+[\w:.-]+="[^"<]*")*\s*/?$)");
      std::smatch m;
      if (!std::regex_match(tag, m, start)) return "malformed tag <" + tag + ">";
      if (open.empty()) ++roots;
      if (tag.back() != '/') open.push_back(m[1]);
    }
    i = j + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> never closes";
  if (roots != 1) return std::to_string(roots) + " root elements";
  return "";
}

std::string attribute(const std::string& element, const std::string& name) {
  const std::regex re("\\s" + name + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(element, m, re) ? m[1].str() : "";
}

LineChart sample_chart() {
  LineChart chart;
  chart.title = "Llama <70B> & friends: cost vs speed";
  chart.x = {"tokens/s per user", AxisScale::Linear};
  chart.y = {"USD per million tokens", AxisScale::Log};
  chart.series.push_back({"8xH100 \"fp16\"", {{108, 52.1, "B=1"}, {105, 6.7, "B=8"}, {84, 1.04, "B=64"}}});
  chart.series.push_back({"B300 fp4", {{287, 30.7, "B=1"}, {216, 0.64, "B=64"}}});
  chart.series.push_back({"Groq (at cost)", {{500, 1.94, ""}}});
  return chart;
}

TEST(SvgChartTest, LinearTicksAreNiceAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0.3, 9.7, AxisScale::Linear), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  const auto t = nice_ticks(30, 420, AxisScale::Linear);
  EXPECT_LE(t.front(), 30);
  EXPECT_GE(t.back(), 420);
  EXPECT_EQ(t, (std::vector<double>{0, 100, 200, 300, 400, 500}));
  const auto one = nice_ticks(5, 5, AxisScale::Linear);  // degenerate: widened
  EXPECT_LT(one.front(), 5);
  EXPECT_GT(one.back(), 5);
}

TEST(SvgChartTest, LogTicksAreDecades) {
  EXPECT_EQ(nice_ticks(0.57, 5.2, AxisScale::Log),
            (std::vector<double>{0.1, 0.2, 0.5, 1, 2, 5, 10}));
  EXPECT_EQ(nice_ticks(1, 1e6, AxisScale::Log),
            (std::vector<double>{1, 10, 100, 1000, 1e4, 1e5, 1e6}));
  const auto one = nice_ticks(3, 3, AxisScale::Log);
  EXPECT_LE(one.front(), 3);
  EXPECT_GE(one.back(), 3);
  EXPECT_EQ(format_tick(0.5), "0.5");
  EXPECT_EQ(format_tick(1000), "1000");
  EXPECT_EQ(format_tick(0), "0");
}

TEST(SvgChartTest, ChartIsWellFormedXml) {
  const std::string svg = render_svg(sample_chart());
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  // The checker can fail.
  EXPECT_NE(xml_problem("<svg><g></svg></g>"), "");
  EXPECT_NE(xml_problem("<svg><text>a & b</text></svg>"), "");
  EXPECT_NE(xml_problem("<svg x=1/>"), "");
}

TEST(SvgChartTest, ChartNamesTitleAxesSeriesAndLabels) {
  const std::string svg = render_svg(sample_chart());
  EXPECT_NE(svg.find("Llama &lt;70B&gt; &amp; friends: cost vs speed"), std::string::npos);
  EXPECT_NE(svg.find("tokens/s per user"), std::string::npos);
  EXPECT_NE(svg.find("USD per million tokens (log scale)"), std::string::npos);
  EXPECT_NE(svg.find("8xH100 &quot;fp16&quot;"), std::string::npos);
  EXPECT_NE(svg.find("B300 fp4"), std::string::npos);
  EXPECT_NE(svg.find("Groq (at cost)"), std::string::npos);
  EXPECT_NE(svg.find(">B=64<"), std::string::npos);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NE(svg.find("stroke=\"" + std::string(kChartPalette[i]) + "\""), std::string::npos) << i;
  // Log y ticks from 0.1 to 100 (the data spans 0.64 .. 52.1).
  EXPECT_NE(svg.find(">0.1</text>"), std::string::npos);
  EXPECT_NE(svg.find(">100</text>"), std::string::npos);
}

TEST(SvgChartTest, PointsLieInsideThePlotBox) {
  const std::string svg = render_svg(sample_chart());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("<rect class=\"plot\"[^>]*>")));
  const std::string plot = m[0];
  const double left = std::atof(attribute(plot, "x").c_str());
  const double top = std::atof(attribute(plot, "y").c_str());
  const double right = left + std::atof(attribute(plot, "width").c_str());
  const double bottom = top + std::atof(attribute(plot, "height").c_str());
  ASSERT_LT(left, right);
  ASSERT_LT(top, bottom);
  int polylines = 0;
  std::vector<std::pair<double, double>> points;
  const std::regex poly("<polyline[^>]*points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), poly); it != std::sregex_iterator(); ++it) {
    ++polylines;
    const std::string list = (*it)[1];
    const std::regex pair("(-?[0-9.]+),(-?[0-9.]+)");
    for (auto p = std::sregex_iterator(list.begin(), list.end(), pair); p != std::sregex_iterator(); ++p)
      points.emplace_back(std::atof((*p)[1].str().c_str()), std::atof((*p)[2].str().c_str()));
  }
  EXPECT_EQ(polylines, 3);
  EXPECT_EQ(points.size(), 6u);
  const std::regex circle("<circle cx=\"([^\"]*)\" cy=\"([^\"]*)\"");
  int circles = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator(); ++it) {
    const double x = std::atof((*it)[1].str().c_str()), y = std::atof((*it)[2].str().c_str());
    if (x > right) continue;  // the legend's markers
    ++circles;
    points.emplace_back(x, y);
  }
  EXPECT_EQ(circles, 6);
  for (const auto& [x, y] : points) {
    EXPECT_GE(x, left);
    EXPECT_LE(x, right);
    EXPECT_GE(y, top);
    EXPECT_LE(y, bottom);
  }
  // Higher cost is higher up: B=1 (52.1 USD) above B=64 (1.04 USD) in the first series.
  EXPECT_LT(points[0].second, points[2].second);
}

TEST(SvgChartTest, BadDataIsAnError) {
  LineChart chart = sample_chart();
  chart.series[1].points[0].y = 0;
  testing::expect_error_naming([&] { render_svg(chart); }, "B300 fp4", {"log axis"});
  chart = sample_chart();
  chart.series[0].points[0].x = std::numeric_limits<double>::quiet_NaN();
  testing::expect_error_naming([&] { render_svg(chart); }, "8xH100", {"finite"});
  LineChart empty;
  empty.title = "nothing";
  empty.series.push_back({"empty", {}});
  testing::expect_error_naming([&] { render_svg(empty); }, "nothing", {"no points"});
}

TEST(SvgChartTest, LinearAxesAndOnePointRender) {
  LineChart chart;
  chart.title = "one";
  chart.series.push_back({"only", {{0, 0, "origin"}}});
  const std::string svg = render_svg(chart);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_NE(svg.find("origin"), std::string::npos);
}

}  // namespace
}  // namespace lockstep::plan
