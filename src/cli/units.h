// Numbers with SI prefixes and units, as the CLI prints them: "73.02 GB", "140.14 GFLOP".
#pragma once

#include <string>

namespace lockstep::cli {

std::string si(double value, const char* unit);

}  // namespace lockstep::cli
