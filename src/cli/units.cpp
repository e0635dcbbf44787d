#include "cli/units.h"

#include <fmt/format.h>

namespace lockstep::cli {

std::string si(double value, const char* unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  int i = 0;
  while (value >= 1000 && i < 6) {
    value /= 1000;
    ++i;
  }
  return fmt::format("{:.2f} {}{}", value, prefixes[i], unit);
}

}  // namespace lockstep::cli
