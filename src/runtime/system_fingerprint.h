// The system_fingerprint of every response: which build served it, on which target, with which
// weights. OpenAI documents it as the backend configuration a response came from, for clients
// that compare it to explain why the same seeded request changed its answer; lockstep's answers
// change only when one of these does.
//
//   "lockstep-0.1.0+g1a2b3c4d-cpu-3f9a12bc0d4e5f67"
//    build (core/build_info.h) - target - the model's digest (model_digest below)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/model.h"

namespace lockstep::runtime {

// A 64-bit FNV-1a digest of the model's tensor table (names, types, shapes) and the first and
// last 256 bytes of every tensor's data: two files with different weights, or the same weights
// stored differently, differ. Reads about 512 bytes per tensor, whatever the model's size.
std::uint64_t model_digest(const model::Model& model);

std::string system_fingerprint(const model::Model& model, std::string_view target);

}  // namespace lockstep::runtime
