// The CPU backend's batched interface against its own one-sequence path, which
// cpu_backend_test.cpp checks against the reference: rows of several sequences at different
// positions in one step give each row the bits it gets alone, and a copied cache prefix serves
// like the original.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "model/model_loader.h"
#include "runtime/cpu_backend.h"

namespace lockstep::runtime {
namespace {

std::unique_ptr<Backend> backend_with_slots(int slots) {
  CpuBackendOptions options;
  options.threads = 2;
  options.slots = slots;
  return make_cpu_backend(model::load_embedded_model(), 64, options);
}

// Logits of each token of `tokens` run alone from position 0 on a fresh one-slot backend.
std::vector<std::vector<float>> alone(const std::vector<std::int32_t>& tokens) {
  auto b = backend_with_slots(1);
  const auto n_vocab = static_cast<std::size_t>(b->model().config.n_vocab);
  std::vector<std::vector<float>> out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::vector<float> logits(n_vocab);
    b->forward(std::span(&tokens[i], 1), static_cast<std::int64_t>(i), logits, false);
    out.push_back(logits);
  }
  return out;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

TEST(CpuBackendSlots, RowsOfSeveralSequencesGetTheirLoneBits) {
  const std::vector<std::int32_t> a = {1, 40, 50, 60, 70, 80, 90, 100};
  const std::vector<std::int32_t> b = {1, 300, 301, 302, 303};
  const auto want_a = alone(a), want_b = alone(b);

  auto backend = backend_with_slots(3);
  ASSERT_EQ(backend->slots(), 3);
  const auto n_vocab = static_cast<std::size_t>(backend->model().config.n_vocab);
  // Step 1: a prefill chunk of sequence a (slot 2), positions 0..4, logits of its last row only.
  std::vector<Backend::Row> rows;
  for (int i = 0; i < 5; ++i) rows.push_back({a[static_cast<std::size_t>(i)], 2, i});
  std::vector<float> logits(n_vocab);
  backend->forward_rows(rows, 4, logits);
  EXPECT_TRUE(same_bits(logits, want_a[4]));
  // Step 2: b's prompt (slot 0) and a's next token in one step, all logits.
  rows.clear();
  for (int i = 0; i < 5; ++i) rows.push_back({b[static_cast<std::size_t>(i)], 0, i});
  rows.push_back({a[5], 2, 5});
  logits.assign(rows.size() * n_vocab, 0);
  backend->forward_rows(rows, 0, logits);
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_TRUE(same_bits(std::span(logits).subspan(i * n_vocab, n_vocab), want_b[i])) << "b row " << i;
  EXPECT_TRUE(same_bits(std::span(logits).subspan(5 * n_vocab, n_vocab), want_a[5]));
  // Step 3: decode rows of both, in the other order.
  rows = {{a[6], 2, 6}};
  logits.assign(n_vocab, 0);
  backend->forward_rows(rows, 0, logits);
  EXPECT_TRUE(same_bits(logits, want_a[6]));

  // Slot 1 gets a's first 7 positions by copy, then runs a[7]: the bits of a alone.
  backend->copy_cache(2, 1, 7);
  rows = {{a[7], 1, 7}};
  backend->forward_rows(rows, 0, logits);
  EXPECT_TRUE(same_bits(logits, want_a[7]));
}

TEST(CpuBackendSlots, RowsLongerThanABatchAreSplitWithTheSameBits) {
  CpuBackendOptions options;
  options.threads = 2;
  options.slots = 2;
  options.max_batch = 3;
  auto backend = make_cpu_backend(model::load_embedded_model(), 64, options);
  const std::vector<std::int32_t> a = {1, 40, 50, 60, 70, 80, 90, 100};
  const auto want = alone(a);
  const auto n_vocab = static_cast<std::size_t>(backend->model().config.n_vocab);
  std::vector<Backend::Row> rows;
  for (int i = 0; i < 8; ++i) rows.push_back({a[static_cast<std::size_t>(i)], 1, i});
  std::vector<float> logits(3 * n_vocab);
  backend->forward_rows(rows, 5, logits);  // logits of rows 5, 6, 7 (across a chunk boundary)
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(same_bits(std::span(logits).subspan(i * n_vocab, n_vocab), want[5 + i])) << i;
}

TEST(CpuBackendSlots, BadRowsAreRefusedWithASentence) {
  auto backend = backend_with_slots(2);
  const auto n_vocab = static_cast<std::size_t>(backend->model().config.n_vocab);
  std::vector<float> logits(n_vocab);
  std::vector<Backend::Row> rows = {{1, 2, 0}};
  EXPECT_THROW(backend->forward_rows(rows, 0, logits), Error);   // slot 2 of 2
  rows = {{1, 0, 64}};
  EXPECT_THROW(backend->forward_rows(rows, 0, logits), Error);   // position past the context
  rows = {{1, 0, 0}};
  EXPECT_THROW(backend->forward_rows(rows, 1, logits), Error);   // no such logit row
  EXPECT_THROW(backend->copy_cache(0, 5, 1), Error);
}

TEST(BackendDefaults, OneSlotBackendsRunConsecutiveRowsOfSlotZero) {
  auto ref = make_reference_backend(model::load_embedded_model(), 32);
  const auto n_vocab = static_cast<std::size_t>(ref->model().config.n_vocab);
  std::vector<Backend::Row> rows = {{1, 0, 0}, {40, 0, 1}, {50, 0, 2}};
  std::vector<float> tail(2 * n_vocab);
  ref->forward_rows(rows, 1, tail);
  auto fresh = make_reference_backend(model::load_embedded_model(), 32);
  std::vector<float> all(3 * n_vocab);
  const std::vector<std::int32_t> tokens = {1, 40, 50};
  fresh->forward(tokens, 0, all, true);
  EXPECT_TRUE(same_bits(tail, std::span(all).subspan(n_vocab)));
  rows = {{1, 1, 0}};
  EXPECT_THROW(ref->forward_rows(rows, 0, std::span(tail).first(n_vocab)), Error);
  rows = {{1, 0, 0}, {2, 0, 5}};
  EXPECT_THROW(ref->forward_rows(rows, 1, std::span(tail).first(n_vocab)), Error);
}

}  // namespace
}  // namespace lockstep::runtime
