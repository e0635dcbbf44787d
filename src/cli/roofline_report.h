// How the CLI prints an LPU roofline (lpu/program/program_roofline.h): the run against its
// tightest bound, then every bound with the work it counts, and the busiest queue.
#pragma once

#include <string>

#include "lpu/program/program_roofline.h"

namespace lockstep::cli {

// One line: "30.1% of the roofline (16449 cycles: the dependency chain binds)".
std::string roofline_summary(const lpu::Roofline& roofline);

// A first line headed `label` (15 columns, as the CLI's other lines), then the table, each line
// indented by `indent`.
void print_roofline(const lpu::Roofline& roofline, double clock_hz, const std::string& label = "roofline",
                    const std::string& indent = "  ");

}  // namespace lockstep::cli
