// The one-slot defaults of Backend's batched interface: rows of slot 0 at consecutive
// positions become one forward() call.
#include "runtime/backend.h"

#include <algorithm>

#include "core/error.h"

namespace lockstep::runtime {

void Backend::forward_rows(std::span<const Row> rows, std::int64_t first_logit_row,
                           std::span<float> logits) {
  const auto n = static_cast<std::int64_t>(rows.size());
  if (n == 0) fail("forward_rows needs at least one row");
  if (first_logit_row < 0 || first_logit_row >= n)
    fail("first logit row {} is outside the {} rows", first_logit_row, n);
  std::vector<std::int32_t> tokens(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].slot != 0) fail("this backend holds one sequence; row {} names slot {}", i, rows[i].slot);
    if (rows[i].pos != rows[0].pos + static_cast<std::int64_t>(i))
      fail("this backend runs consecutive positions of one sequence; row {} is at {}", i, rows[i].pos);
    tokens[i] = rows[i].token;
  }
  const auto n_vocab = static_cast<std::size_t>(model().config.n_vocab);
  if (first_logit_row == n - 1) return forward(tokens, rows[0].pos, logits, false);
  if (first_logit_row == 0) return forward(tokens, rows[0].pos, logits, true);
  std::vector<float> all(rows.size() * n_vocab);
  forward(tokens, rows[0].pos, all, true);
  std::copy(all.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(first_logit_row) * n_vocab),
            all.end(), logits.begin());
}

void Backend::copy_cache(int from, int to, std::int64_t n) {
  if (from != to) fail("this backend holds one sequence and cannot copy between slots");
}

}  // namespace lockstep::runtime
