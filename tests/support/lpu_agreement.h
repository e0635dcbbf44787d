// An LPU target against the reference pass (the oracle checked against llama.cpp), as the
// backend tests check every target: the prompt's logits at every position within the documented
// tolerance, then the same greedy tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "model/model.h"
#include "runtime/lpu_backend.h"

namespace lockstep::testing {

// fp16 weights and fp16 inputs to the MXM against the fp32 reference: logits (row std ~4) stay
// within this absolute error (docs/lpu.md, "Measured").
inline constexpr float kLpuLogitTolerance = 0.05f;
inline constexpr int kLpuGreedyTokens = 64;
inline constexpr std::int64_t kLpuTestContext = 128;

// `make` builds a fresh target for `m` with a kLpuTestContext-position KV cache; it is called
// twice (logits, then greedy tokens from a fresh state). Prints a "[measured]" line with `label`.
void expect_lpu_matches_reference(std::shared_ptr<const model::Model> m,
                                  const std::function<std::unique_ptr<runtime::LpuBackend>()>& make,
                                  const std::string& label);

}  // namespace lockstep::testing
