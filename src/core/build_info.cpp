#include "core/build_info.h"

#ifndef LOCKSTEP_VERSION
#define LOCKSTEP_VERSION "unknown"
#endif
#ifndef LOCKSTEP_GIT_COMMIT
#define LOCKSTEP_GIT_COMMIT ""
#endif

namespace lockstep::core {

std::string_view build_version() {
  static constexpr std::string_view commit = LOCKSTEP_GIT_COMMIT;
  return commit.empty() ? LOCKSTEP_VERSION : LOCKSTEP_VERSION "+g" LOCKSTEP_GIT_COMMIT;
}

}  // namespace lockstep::core
