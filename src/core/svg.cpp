#include "core/svg.h"

#include <fmt/format.h>

#include <cmath>

namespace lockstep::core {

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

std::string svg_number(double value) {
  if (!std::isfinite(value)) return "0";
  std::string s = fmt::format("{:.2f}", value);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

SvgAttrs& SvgAttrs::set(std::string_view name, std::string_view value) {
  text_ += ' ';
  text_ += name;
  text_ += "=\"";
  text_ += xml_escape(value);
  text_ += '"';
  return *this;
}

SvgAttrs& SvgAttrs::set(std::string_view name, double value) {
  return set(name, std::string_view(svg_number(value)));
}

SvgDocument::SvgDocument(double width, double height, const SvgAttrs& root, bool xml_declaration) {
  if (xml_declaration) out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::string w = svg_number(width), h = svg_number(height);
  out_ += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\"{2}>\n",
      w, h, root.text());
}

void SvgDocument::element(std::string_view name, const SvgAttrs& attrs) {
  out_ += '<';
  out_ += name;
  out_ += attrs.text();
  out_ += "/>\n";
}

void SvgDocument::title(std::string_view text) {
  out_ += "<title>" + xml_escape(text) + "</title>\n";
}

void SvgDocument::rect(double x, double y, double width, double height, const SvgAttrs& attrs) {
  element("rect",
          SvgAttrs(attrs).set("x", x).set("y", y).set("width", width).set("height", height));
}

void SvgDocument::line(double x1, double y1, double x2, double y2, const SvgAttrs& attrs) {
  element("line", SvgAttrs(attrs).set("x1", x1).set("y1", y1).set("x2", x2).set("y2", y2));
}

void SvgDocument::circle(double cx, double cy, double r, const SvgAttrs& attrs) {
  element("circle", SvgAttrs(attrs).set("cx", cx).set("cy", cy).set("r", r));
}

void SvgDocument::text(double x, double y, std::string_view content, const SvgAttrs& attrs) {
  out_ += "<text" + SvgAttrs(attrs).set("x", x).set("y", y).text() + ">" + xml_escape(content) +
          "</text>\n";
}

void SvgDocument::polyline(std::span<const SvgPoint> points, const SvgAttrs& attrs) {
  std::string list;
  for (const SvgPoint& p : points) {
    if (!list.empty()) list += ' ';
    list += svg_number(p.x) + "," + svg_number(p.y);
  }
  element("polyline", SvgAttrs(attrs).set("points", list));
}

void SvgDocument::path(std::string_view d, const SvgAttrs& attrs) {
  element("path", SvgAttrs(attrs).set("d", d));
}

void SvgDocument::open_group(const SvgAttrs& attrs, std::string_view hover_title) {
  out_ += "<g" + attrs.text() + ">\n";
  ++open_groups_;
  if (!hover_title.empty()) title(hover_title);
}

void SvgDocument::close_group() {
  if (open_groups_ == 0) return;
  --open_groups_;
  out_ += "</g>\n";
}

std::string SvgDocument::finish() {
  while (open_groups_ > 0) close_group();
  out_ += "</svg>\n";
  std::string document = std::move(out_);
  out_.clear();
  return document;
}

}  // namespace lockstep::core
