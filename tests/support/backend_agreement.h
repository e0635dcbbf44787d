// A target against the reference pass (the oracle checked against llama.cpp), as the backend
// tests check every target: the prompt's logits at every position within a tolerance, then the
// same greedy tokens from a fresh state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "model/model.h"
#include "runtime/backend.h"

namespace lockstep::testing {

struct AgreementCheck {
  float logit_tolerance = 0.05f;    // max |logit - reference logit| over the prompt
  int greedy_tokens = 64;           // generated tokens that must equal the reference's
  std::int64_t context = 128;       // KV cache positions of both backends
};

// `make` builds a fresh target for `m` with check.context positions; it is called twice.
// Prints "[measured] <label>: max |logit error| ..." plus `detail(backend)` when given.
// Returns the measured max logit error.
float expect_backend_matches_reference(
    std::shared_ptr<const model::Model> m,
    const std::function<std::unique_ptr<runtime::Backend>()>& make, const std::string& label,
    const AgreementCheck& check,
    const std::function<std::string(const runtime::Backend&)>& detail = {});

}  // namespace lockstep::testing
