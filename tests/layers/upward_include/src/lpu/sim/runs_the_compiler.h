// A file that breaks the layering on purpose: the simulator may not include the compiler
// (cmake/layers.cmake). tests/CMakeLists.txt checks that check_layers.cmake refuses it.
#pragma once
#include "compiler/decode_lowering.h"
