#include "support/lpu_agreement.h"

#include <fmt/format.h>

#include "support/backend_agreement.h"

namespace lockstep::testing {

void expect_lpu_matches_reference(std::shared_ptr<const model::Model> m,
                                  const std::function<std::unique_ptr<runtime::LpuBackend>()>& make,
                                  const std::string& label) {
  AgreementCheck check;
  check.logit_tolerance = kLpuLogitTolerance;
  check.greedy_tokens = kLpuGreedyTokens;
  check.context = kLpuTestContext;
  expect_backend_matches_reference(
      m, [&]() -> std::unique_ptr<runtime::Backend> { return make(); }, label, check,
      [](const runtime::Backend& b) {
        return fmt::format("{} cycles per step",
                           static_cast<const runtime::LpuBackend&>(b).cycles_per_step());
      });
}

}  // namespace lockstep::testing
