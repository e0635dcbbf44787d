#include "runtime/cpu_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "cpu/plan.h"
#include "cpu/thread_team.h"

namespace lockstep::runtime {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend(std::shared_ptr<const model::Model> model, std::int64_t n_ctx,
             const CpuBackendOptions& o)
      : model_(std::move(model)),
        team_(o.threads > 0 ? o.threads : static_cast<int>(cpu::available_cores().size())) {
    if (n_ctx < 1) fail("the CPU backend needs a context of at least one position");
    cpu::PlanOptions options;
    options.threads = team_.size();
    options.isa = o.isa;
    options.max_batch = std::max<std::int64_t>(1, o.max_batch);
    options.n_ctx = n_ctx;
    options.n_slots = std::max(1, o.slots);
    plan_ = cpu::lower_to_plan(*model_, options, team_, o.log);
    rows_.resize(static_cast<std::size_t>(options.max_batch));
    if (const char* env = std::getenv("LOCKSTEP_PROFILE"); env && *env && *env != '0')
      plan_.profile.assign(plan_.steps.size() + 1, 0.0);
  }
  ~CpuBackend() override {
    if (!plan_.profile.empty()) std::fputs(cpu::profile_report(plan_).c_str(), stderr);
  }

  const model::Model& model() const override { return *model_; }
  std::int64_t context_length() const override { return plan_.options.n_ctx; }
  int slots() const override { return static_cast<int>(plan_.options.n_slots); }

  void forward(std::span<const std::int32_t> tokens, std::int64_t pos, std::span<float> logits,
               bool all_logits) override {
    const auto& c = model_->config;
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n == 0) fail("forward needs at least one token");
    if (pos < 0 || pos + n > plan_.options.n_ctx)
      fail("{} tokens at position {} do not fit the context of {} tokens", n, pos,
           plan_.options.n_ctx);
    const std::size_t logit_rows = all_logits ? static_cast<std::size_t>(n) : 1;
    if (logits.size() != logit_rows * static_cast<std::size_t>(c.n_vocab))
      fail("logits buffer holds {} values, expected {}", logits.size(),
           logit_rows * static_cast<std::size_t>(c.n_vocab));
    for (const std::int32_t id : tokens) check_token(id);
    // Chunks of at most max_batch tokens; without all_logits only the last chunk's last row
    // matters, and each chunk overwrites the one before.
    for (std::int64_t done = 0; done < n;) {
      const std::int64_t chunk = std::min(plan_.options.max_batch, n - done);
      for (std::int64_t t = 0; t < chunk; ++t)
        rows_[static_cast<std::size_t>(t)] = {tokens[static_cast<std::size_t>(done + t)], 0, pos + done + t};
      float* out = logits.data() + (all_logits ? done * c.n_vocab : 0);
      cpu::run_plan(plan_, team_, rows_.data(), chunk, all_logits ? 0 : chunk - 1, out);
      done += chunk;
    }
  }

  void forward_rows(std::span<const Row> rows, std::int64_t first_logit_row,
                    std::span<float> logits) override {
    const auto n = static_cast<std::int64_t>(rows.size());
    const auto n_vocab = static_cast<std::size_t>(model_->config.n_vocab);
    if (n == 0) fail("forward_rows needs at least one row");
    if (first_logit_row < 0 || first_logit_row >= n)
      fail("first logit row {} is outside the {} rows", first_logit_row, n);
    if (logits.size() != static_cast<std::size_t>(n - first_logit_row) * n_vocab)
      fail("logits buffer holds {} values, expected {}", logits.size(),
           static_cast<std::size_t>(n - first_logit_row) * n_vocab);
    for (const Row& row : rows) {
      check_token(row.token);
      if (row.slot < 0 || row.slot >= slots())
        fail("slot {} is outside the backend's {} sequences", row.slot, slots());
      if (row.pos < 0 || row.pos >= plan_.options.n_ctx)
        fail("position {} is outside the context of {} tokens", row.pos, plan_.options.n_ctx);
    }
    // Chunks of at most max_batch rows; each chunk writes the logits of its rows at or after
    // first_logit_row (a row's bits do not depend on the chunking).
    for (std::int64_t done = 0; done < n;) {
      const std::int64_t chunk = std::min(plan_.options.max_batch, n - done);
      for (std::int64_t t = 0; t < chunk; ++t) {
        const Row& row = rows[static_cast<std::size_t>(done + t)];
        rows_[static_cast<std::size_t>(t)] = {row.token, row.slot, row.pos};
      }
      const std::int64_t first = std::max<std::int64_t>(first_logit_row - done, 0);
      if (first < chunk) {
        float* out = logits.data() + static_cast<std::size_t>(done + first - first_logit_row) * n_vocab;
        cpu::run_plan(plan_, team_, rows_.data(), chunk, first, out);
      } else {
        // No logits wanted from this chunk: run it for its keys and values, writing the last
        // row's logits into scratch.
        scratch_logits_.resize(n_vocab);
        cpu::run_plan(plan_, team_, rows_.data(), chunk, chunk - 1, scratch_logits_.data());
      }
      done += chunk;
    }
  }

  void copy_cache(int from, int to, std::int64_t n) override {
    if (from < 0 || to < 0 || from >= slots() || to >= slots())
      fail("slots {} and {} are not both among the backend's {} sequences", from, to, slots());
    if (n < 0 || n > plan_.options.n_ctx) fail("cannot copy {} positions of a {}-position cache", n, plan_.options.n_ctx);
    cpu::copy_kv_prefix(plan_, from, to, n);
  }

 private:
  void check_token(std::int32_t id) const {
    if (id < 0 || id >= model_->config.n_vocab)
      fail("token id {} is out of range (the vocabulary has {} tokens)", id, model_->config.n_vocab);
  }

  std::shared_ptr<const model::Model> model_;
  cpu::ThreadTeam team_;
  cpu::Plan plan_;
  std::vector<cpu::PlanRow> rows_;     // [max_batch] the rows of the chunk being run
  std::vector<float> scratch_logits_;  // [n_vocab] logits nobody asked for
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const model::Model> model,
                                          std::int64_t n_ctx, const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(std::move(model), n_ctx, options);
}

}  // namespace lockstep::runtime
