#include "cli/roofline_report.h"

#include <fmt/core.h>

namespace lockstep::cli {

std::string roofline_summary(const lpu::Roofline& roofline) {
  const lpu::RooflineBound& b = roofline.binding();
  return fmt::format("{:.1f}% of the roofline ({} cycles: {} binds)", 100 * roofline.fraction(), b.cycles,
                     b.resource);
}

void print_roofline(const lpu::Roofline& roofline, double clock_hz, const std::string& label,
                    const std::string& indent) {
  fmt::print("{:<14} {} cycles = {:.2f} us, {}\n", label, roofline.cycles, 1e6 * roofline.cycles / clock_hz,
             roofline_summary(roofline));
  fmt::print("{}{:<22} {:>10} {:>8}  {}\n", indent, "lower bound", "cycles", "of run", "work");
  for (const lpu::RooflineBound& b : roofline.bounds)
    fmt::print("{}{:<22} {:>10} {:>7.1f}%  {}\n", indent, b.resource, b.cycles,
               roofline.cycles ? 100.0 * b.cycles / roofline.cycles : 0.0, b.work);
  std::string queues;
  for (const auto& q : roofline.busiest)
    queues += fmt::format("{}{} {} ({:.1f}%)", queues.empty() ? "" : ", ", q.name, q.iterations,
                          roofline.cycles ? 100.0 * q.iterations / roofline.cycles : 0.0);
  fmt::print("{}busiest queues (iterations; a limit of this placement, not of the machine): {}\n", indent,
             queues);
}

}  // namespace lockstep::cli
