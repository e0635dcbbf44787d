// A prefill chunk: T tokens in one program run (every weight streamed once for all rows), whose
// logits at every row match the reference's, and whose KV cache the decode program continues.
#include <gtest/gtest.h>

#include "support/lpu_chip.h"

#include <cmath>

#include "compiler/decode_lowering.h"
#include "lpu/program/host_interface.h"
#include "lpu/sim/simulator.h"
#include "model/catalog.h"
#include "model/model_loader.h"
#include "model/synthetic_model.h"
#include "runtime/backend.h"
#include "support/paths.h"

namespace lockstep::compiler {
namespace {


float max_error(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

TEST(PrefillTest, ChunkLogitsAndTheDecodeThatFollowsMatchTheReference) {
  const std::string path = lockstep::testing::scratch_dir("prefill") + "/tiny-qwen2.gguf";
  model::write_synthetic_model(model::load_catalog_entry("tiny-qwen2"), {}, path);
  auto m = model::load_model(path);
  constexpr std::int64_t kContext = 96;
  const std::vector<std::int32_t> prompt = {3, 1, 4, 1, 5, 9};
  const std::size_t n_vocab = static_cast<std::size_t>(m->config.n_vocab);

  DecodeOptions options{compiler::WeightPrecision::Fp16, kContext};
  options.rows = static_cast<std::int64_t>(prompt.size());
  const DecodeProgram prefill(m->config, m.get(), lockstep::testing::test_system(), options);
  options.rows = 1;
  const DecodeProgram decode(m->config, m.get(), lockstep::testing::test_system(), options);
  ASSERT_EQ(prefill.program().memory, decode.program().memory);

  Chip chip(lockstep::testing::test_system().chip);
  chip.load_memory(prefill.program());
  for (const auto& [buffer, bytes] : fill_inputs(prefill.program(), prompt, 0)) chip.write_buffer(buffer, bytes);
  const SimulationResult r = chip.run(prefill.program(), SimulationMode::Functional);
  const auto read = [&](const HostBuffer& b) { return chip.read_buffer(b); };
  const std::vector<float> got = read_logits(prefill.program(), read);

  auto reference = runtime::make_reference_backend(m, kContext);
  std::vector<float> want(prompt.size() * n_vocab);
  reference->forward(prompt, 0, want, /*all_logits=*/true);
  const float prefill_error = max_error(want, got);
  std::printf("[measured] prefill of %zu tokens: %llu cycles (decode step %llu); max |logit error| %.3g\n",
              prompt.size(), (unsigned long long)r.cycles,
              (unsigned long long)decode.program().predicted_cycles, prefill_error);
  EXPECT_LE(prefill_error, 0.05f);

  // The decode program continues from the KV cache the prefill left in MEM.
  std::int32_t token = 7;
  for (std::int64_t pos = static_cast<std::int64_t>(prompt.size()); pos < 12; ++pos) {
    for (const auto& [buffer, bytes] : fill_inputs(decode.program(), std::span<const std::int32_t>(&token, 1), pos)) chip.write_buffer(buffer, bytes);
    chip.run(decode.program(), SimulationMode::Functional);
    std::vector<float> step(n_vocab);
    reference->forward(std::span<const std::int32_t>(&token, 1), pos, step, false);
    EXPECT_LE(max_error(step, read_logits(decode.program(), read)), 0.05f) << "position " << pos;
    token = static_cast<std::int32_t>((token * 31 + 11) % m->config.n_vocab);
  }
}

}  // namespace
}  // namespace lockstep::compiler
