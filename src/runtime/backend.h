// What the runtime needs from an execution target: run tokens through the model at given
// positions, keeping their keys and values for later calls. The reference pass is one
// implementation; the CPU and LPU targets are others.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

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
};

// The FP32 reference pass (the oracle). n_ctx: cache capacity in positions.
std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const model::Model> model,
                                                std::int64_t n_ctx);

}  // namespace lockstep::runtime
