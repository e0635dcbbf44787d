// How deeply JSON text nests arrays and objects, found by a byte scan before any parser runs
// (brackets inside strings do not count), so that hostile input cannot exhaust the stack of a
// recursive parser or of the parsed value's destructor.
#pragma once

#include <string_view>

namespace lockstep {

// The deepest nesting in `text`; stops scanning (and returns a value > limit) once past `limit`.
int json_nesting_depth(std::string_view text, int limit);

}  // namespace lockstep
