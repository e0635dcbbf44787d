// Which build of lockstep this is: the project version and the git commit it was configured
// from ("0.1.0+g1a2b3c4d"; "0.1.0" when built outside a git checkout). The commit is read when
// CMake configures the build, so an incremental build after new commits shows the old one until
// CMake runs again.
#pragma once

#include <string_view>

namespace lockstep::core {

std::string_view build_version();

}  // namespace lockstep::core
