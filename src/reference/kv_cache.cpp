#include "reference/kv_cache.h"

namespace lockstep::reference {

KvCache::KvCache(const model::ModelConfig& config, std::int64_t n_ctx)
    : n_ctx_(n_ctx), kv_dim_(config.kv_dim()) {
  const auto n = static_cast<std::size_t>(config.n_layer * n_ctx * kv_dim_);
  keys_.assign(n, 0.0f);
  values_.assign(n, 0.0f);
}

}  // namespace lockstep::reference
