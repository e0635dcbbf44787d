// The SVG writer (core/svg.h): escaping, number formatting, and a document whose elements all
// close. tests/python/test_report_formats.py parses the real pictures with an XML parser.
#include "core/svg.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace lockstep::core {
namespace {

TEST(SvgTest, EscapesXml) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape(std::string("x\x01y\tz")), "xy\tz");
  EXPECT_EQ(xml_escape("B=8"), "B=8");
}

TEST(SvgTest, NumbersHaveAtMostTwoDecimals) {
  EXPECT_EQ(svg_number(12), "12");
  EXPECT_EQ(svg_number(12.5), "12.5");
  EXPECT_EQ(svg_number(0.254), "0.25");
  EXPECT_EQ(svg_number(1.0 / 3.0), "0.33");
  EXPECT_EQ(svg_number(-3), "-3");
  EXPECT_EQ(svg_number(-0.001), "0");
  EXPECT_EQ(svg_number(1334), "1334");
  EXPECT_EQ(svg_number(std::numeric_limits<double>::infinity()), "0");
}

TEST(SvgTest, AttributesAreEscapedAndKeepTheirOrder) {
  const SvgAttrs a = SvgAttrs().set("class", "a\"b").set("x", 1.5).set("n", 7).set("fill", "#fff");
  EXPECT_EQ(a.text(), " class=\"a&quot;b\" x=\"1.5\" n=\"7\" fill=\"#fff\"");
}

TEST(SvgTest, DocumentClosesEveryElement) {
  SvgDocument svg(320, 240.5, SvgAttrs().set("font-size", 11), true);
  svg.title("a <title>");
  svg.open_group(SvgAttrs().set("class", "outer"), "hover & see");
  svg.rect(1, 2, 3, 4, SvgAttrs().set("fill", "red"));
  svg.line(0, 0, 10.126, 10);
  svg.circle(5, 5, 3.5);
  const std::vector<SvgPoint> points{{0, 0}, {1.25, 2}};
  svg.polyline(points, SvgAttrs().set("fill", "none"));
  svg.path("M 0 0 L 1 1");
  svg.open_group();
  svg.text(1, 2, "x < y & z", SvgAttrs().set("text-anchor", "end"));
  const std::string doc = svg.finish();  // closes both groups
  EXPECT_EQ(doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"320\" "
            "height=\"240.5\" viewBox=\"0 0 320 240.5\" font-size=\"11\">\n"
            "<title>a &lt;title&gt;</title>\n"
            "<g class=\"outer\">\n"
            "<title>hover &amp; see</title>\n"
            "<rect fill=\"red\" x=\"1\" y=\"2\" width=\"3\" height=\"4\"/>\n"
            "<line x1=\"0\" y1=\"0\" x2=\"10.13\" y2=\"10\"/>\n"
            "<circle cx=\"5\" cy=\"5\" r=\"3.5\"/>\n"
            "<polyline fill=\"none\" points=\"0,0 1.25,2\"/>\n"
            "<path d=\"M 0 0 L 1 1\"/>\n"
            "<g>\n"
            "<text text-anchor=\"end\" x=\"1\" y=\"2\">x &lt; y &amp; z</text>\n"
            "</g>\n"
            "</g>\n"
            "</svg>\n");
}

}  // namespace
}  // namespace lockstep::core
