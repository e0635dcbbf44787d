// Properties of the reference pass that hold for any model; run on the embedded model, so they
// need nothing outside the repository.
#include "reference/transformer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "model/model_loader.h"

namespace lockstep::reference {
namespace {

const std::vector<std::int32_t> kTokens{1, 40, 50, 60, 70, 80, 90, 100, 110, 120};

std::vector<float> batch_logits(const Transformer& t, const std::vector<std::int32_t>& tokens) {
  KvCache cache(t.config(), static_cast<std::int64_t>(tokens.size()));
  std::vector<float> logits(tokens.size() * t.config().n_vocab);
  t.forward(tokens, 0, cache, logits, true);
  return logits;
}

TEST(ReferenceTransformer, SameInputSameBits) {
  Transformer t(model::load_embedded_model());
  auto a = batch_logits(t, kTokens);
  auto b = batch_logits(t, kTokens);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

// Decoding one token at a time through the KV cache gives the same bits as the whole prompt in
// one batch: every sum runs in the same order either way.
TEST(ReferenceTransformer, DecodeThroughCacheEqualsBatchBitForBit) {
  Transformer t(model::load_embedded_model());
  const auto n_vocab = t.config().n_vocab;
  const auto batch = batch_logits(t, kTokens);
  KvCache cache(t.config(), static_cast<std::int64_t>(kTokens.size()));
  std::vector<float> row(n_vocab);
  // A 3-token prefill chunk, then single tokens.
  std::vector<float> first(3 * n_vocab);
  t.forward(std::span(kTokens).subspan(0, 3), 0, cache, first, true);
  EXPECT_EQ(std::memcmp(first.data(), batch.data(), first.size() * sizeof(float)), 0);
  for (std::size_t i = 3; i < kTokens.size(); ++i) {
    t.forward(std::span(kTokens).subspan(i, 1), static_cast<std::int64_t>(i), cache, row, false);
    EXPECT_EQ(std::memcmp(row.data(), &batch[i * n_vocab], n_vocab * sizeof(float)), 0)
        << "position " << i;
  }
}

TEST(ReferenceTransformer, RejectsOutOfRangeTokensAndOverflowingContext) {
  Transformer t(model::load_embedded_model());
  KvCache cache(t.config(), 4);
  std::vector<float> logits(t.config().n_vocab);
  std::vector<std::int32_t> bad{static_cast<std::int32_t>(t.config().n_vocab)};
  EXPECT_THROW(t.forward(bad, 0, cache, logits, false), Error);
  std::vector<std::int32_t> five(5, 1);
  EXPECT_THROW(t.forward(five, 0, cache, logits, false), Error);
}

}  // namespace
}  // namespace lockstep::reference
