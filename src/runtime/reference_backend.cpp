#include "reference/transformer.h"
#include "runtime/backend.h"

namespace lockstep::runtime {
namespace {

class ReferenceBackend final : public Backend {
 public:
  ReferenceBackend(std::shared_ptr<const model::Model> model, std::int64_t n_ctx)
      : transformer_(std::move(model)), cache_(transformer_.config(), n_ctx) {}

  const model::Model& model() const override { return transformer_.model(); }
  std::int64_t context_length() const override { return cache_.capacity(); }

  void forward(std::span<const std::int32_t> tokens, std::int64_t pos, std::span<float> logits,
               bool all_logits) override {
    transformer_.forward(tokens, pos, cache_, logits, all_logits);
  }

 private:
  reference::Transformer transformer_;
  reference::KvCache cache_;
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const model::Model> model,
                                                std::int64_t n_ctx) {
  return std::make_unique<ReferenceBackend>(std::move(model), n_ctx);
}

}  // namespace lockstep::runtime
