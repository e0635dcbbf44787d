// A small writer of self-contained SVG 1.1 documents (no scripts, no external fonts or styles)
// that open in any browser. The one place lockstep writes SVG: `lockstep plan`'s charts
// (plan/svg_chart.h) and the system timeline (lpu/report/system_timeline.h) both go through it.
//
// Contract:
// - Output is well-formed XML: every text and attribute value is escaped (xml_escape), every
//   element is closed, groups are closed in order (finish() closes any left open).
// - Output is deterministic: numbers are written by svg_number (at most 2 decimals, trailing
//   zeros dropped, no "-0"), one element per line, attributes in a fixed order: the caller's
//   (class, fill, ...) in the order given, then the element's geometry (x, y, width, ...).
// - Coordinates are user units of the viewBox "0 0 width height" (the picture's px).
#pragma once

#include <concepts>
#include <span>
#include <string>
#include <string_view>

namespace lockstep::core {

// `text` with &, <, >, " and ' replaced by entities, and control characters (which XML 1.0
// forbids) other than tab, newline and carriage return dropped.
std::string xml_escape(std::string_view text);

// A coordinate or length as SVG text: rounded to 2 decimals, trailing zeros and point dropped
// ("12", "12.5", "0.25", "-3"); non-finite values as "0".
std::string svg_number(double value);

// The attributes of one element, in the order given: ` name="value"` each.
class SvgAttrs {
 public:
  SvgAttrs& set(std::string_view name, std::string_view value);
  SvgAttrs& set(std::string_view name, const char* value) {
    return set(name, std::string_view(value));
  }
  SvgAttrs& set(std::string_view name, const std::string& value) {
    return set(name, std::string_view(value));
  }
  SvgAttrs& set(std::string_view name, double value);  // svg_number
  template <std::integral T>
  SvgAttrs& set(std::string_view name, T value) {
    return set(name, std::string_view(std::to_string(value)));
  }

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

struct SvgPoint {
  double x = 0;
  double y = 0;
};

class SvgDocument {
 public:
  // Opens <svg xmlns=... width height viewBox="0 0 width height" ...root>; width and height in
  // px. With xml_declaration, an <?xml ...?> line comes first.
  SvgDocument(double width, double height, const SvgAttrs& root = {},
              bool xml_declaration = false);

  // <title>: the document's name, or a group's tooltip when the group holds it.
  void title(std::string_view text);
  void rect(double x, double y, double width, double height, const SvgAttrs& attrs = {});
  void line(double x1, double y1, double x2, double y2, const SvgAttrs& attrs = {});
  void circle(double cx, double cy, double r, const SvgAttrs& attrs = {});
  // `content` is escaped; x, y: the anchor point (baseline).
  void text(double x, double y, std::string_view content, const SvgAttrs& attrs = {});
  void polyline(std::span<const SvgPoint> points, const SvgAttrs& attrs = {});
  // d: path data; build it with svg_number.
  void path(std::string_view d, const SvgAttrs& attrs = {});

  // <g attrs>, with a <title> (shown on hover) when `hover_title` is not empty.
  void open_group(const SvgAttrs& attrs = {}, std::string_view hover_title = {});
  void close_group();  // closes the innermost open group (none open: no effect)

  // Closes the open groups and the document; returns it. The document is empty afterwards.
  std::string finish();

 private:
  void element(std::string_view name, const SvgAttrs& attrs);  // a self-closing element

  std::string out_;
  int open_groups_ = 0;
};

}  // namespace lockstep::core
