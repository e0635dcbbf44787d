// What the runtime needs from an execution target: run tokens through the model at given
// positions, keeping their keys and values for later calls. The reference pass is one
// implementation; the CPU and LPU targets are others.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/model.h"

namespace lockstep::runtime {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const model::Model& model() const = 0;
  virtual std::int64_t context_length() const = 0;  // positions the cache holds

  // Runs tokens at positions [pos, pos + n); keys/values of positions < pos must come from
  // earlier calls (later positions are overwritten). Logits as reference::Transformer::forward:
  // [n][n_vocab] fp32 when all_logits, else [n_vocab] fp32 for the last token.
  virtual void forward(std::span<const std::int32_t> tokens, std::int64_t pos,
                       std::span<float> logits, bool all_logits) = 0;

  // --- Several sequences at once (the server). forward() above is sequence (slot) 0. ---

  // One row of a batched step: token `token` of sequence `slot` at position `pos`.
  struct Row {
    std::int32_t token = 0;
    std::int32_t slot = 0;
    std::int64_t pos = 0;
  };

  // Sequences whose KV caches the backend holds at once, each context_length() positions.
  virtual int slots() const { return 1; }

  // Runs rows of possibly different sequences in one step. A row attends over its slot's
  // positions 0 .. pos: those below pos come from earlier calls or earlier rows of this call
  // (rows of one slot need distinct positions). Logits [rows.size() - first_logit_row][n_vocab]
  // fp32 for the rows from first_logit_row on. A row's logits are the same bits whatever rows
  // run beside it (on backends with slots() > 1; see cpu_backend.h). This default serves
  // one-slot backends: rows of slot 0 at consecutive positions.
  virtual void forward_rows(std::span<const Row> rows, std::int64_t first_logit_row,
                            std::span<float> logits);

  // Copies the keys and values of positions [0, n) of slot `from` into slot `to` (a shared
  // prompt prefix). The default serves one-slot backends (from == to: nothing to do).
  virtual void copy_cache(int from, int to, std::int64_t n);
};

// The FP32 reference pass (the oracle). n_ctx: cache capacity in positions.
std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const model::Model> model,
                                                std::int64_t n_ctx);

}  // namespace lockstep::runtime
