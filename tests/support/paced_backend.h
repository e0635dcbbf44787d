// A backend that takes at least `step` per batched step: the wrapped backend's results, slowed
// down, so that server tests can act while a request is still generating (disconnect, drain)
// however fast the machine and the embedded model are.
#pragma once

#include <chrono>
#include <memory>
#include <thread>

#include "runtime/backend.h"

namespace lockstep::testing {

class PacedBackend : public runtime::Backend {
 public:
  PacedBackend(std::unique_ptr<runtime::Backend> inner, std::chrono::milliseconds step)
      : inner_(std::move(inner)), step_(step) {}

  const model::Model& model() const override { return inner_->model(); }
  std::int64_t context_length() const override { return inner_->context_length(); }
  int slots() const override { return inner_->slots(); }
  void forward(std::span<const std::int32_t> tokens, std::int64_t pos, std::span<float> logits,
               bool all_logits) override {
    std::this_thread::sleep_for(step_);
    inner_->forward(tokens, pos, logits, all_logits);
  }
  void forward_rows(std::span<const Row> rows, std::int64_t first_logit_row,
                    std::span<float> logits) override {
    std::this_thread::sleep_for(step_);
    inner_->forward_rows(rows, first_logit_row, logits);
  }
  void copy_cache(int from, int to, std::int64_t n) override { inner_->copy_cache(from, to, n); }

 private:
  std::unique_ptr<runtime::Backend> inner_;
  std::chrono::milliseconds step_;
};

}  // namespace lockstep::testing
