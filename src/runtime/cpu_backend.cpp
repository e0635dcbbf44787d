#include "runtime/cpu_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

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
    plan_ = cpu::lower_to_plan(*model_, options, team_, o.log);
    if (const char* env = std::getenv("LOCKSTEP_PROFILE"); env && *env && *env != '0')
      plan_.profile.assign(plan_.steps.size() + 1, 0.0);
  }
  ~CpuBackend() override {
    if (!plan_.profile.empty()) std::fputs(cpu::profile_report(plan_).c_str(), stderr);
  }

  const model::Model& model() const override { return *model_; }
  std::int64_t context_length() const override { return plan_.options.n_ctx; }

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
    for (const std::int32_t id : tokens)
      if (id < 0 || id >= c.n_vocab)
        fail("token id {} is out of range (the vocabulary has {} tokens)", id, c.n_vocab);
    // Chunks of at most max_batch tokens; without all_logits only the last chunk's last row
    // matters, and each chunk overwrites the one before.
    for (std::int64_t done = 0; done < n;) {
      const std::int64_t chunk = std::min(plan_.options.max_batch, n - done);
      float* out = logits.data() + (all_logits ? done * c.n_vocab : 0);
      cpu::run_plan(plan_, team_, tokens.data() + done, chunk, pos + done, out, all_logits);
      done += chunk;
    }
  }

 private:
  std::shared_ptr<const model::Model> model_;
  cpu::ThreadTeam team_;
  cpu::Plan plan_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const model::Model> model,
                                          std::int64_t n_ctx, const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(std::move(model), n_ctx, options);
}

}  // namespace lockstep::runtime
