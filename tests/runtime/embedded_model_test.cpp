// The embedded KJV model: (1) against PyTorch, which trained it (models/lockstep-kjv.reference.json
// holds the training script's own float32 torch outputs: token ids from its tokenizer, top-10
// logits at the last prompt position and greedy continuations); (2) a golden greedy output,
// pinned so that any change to the model, tokenizer or reference pass is seen.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model_loader.h"
#include "runtime/generator.h"

namespace lockstep {
namespace {

std::vector<std::int32_t> greedy(const std::shared_ptr<const model::Model>& model,
                                 const std::vector<std::int32_t>& prompt, std::int64_t n,
                                 std::vector<float>* margins = nullptr) {
  auto backend = runtime::make_reference_backend(model, 256);
  runtime::GenerationOptions options;
  options.max_new_tokens = n;
  options.sampling.temperature = 0;
  options.sampling.repeat_penalty = 1.0f;
  options.stop_at_end_of_generation = true;
  std::vector<std::int32_t> out;
  runtime::generate(*backend, prompt, options, [&](std::int32_t id) {
    out.push_back(id);
    return true;
  });
  if (margins) {  // top1 - top2 of every step, recomputed by teacher forcing
    std::vector<std::int32_t> seq = prompt;
    seq.insert(seq.end(), out.begin(), out.end());
    std::vector<float> logits(seq.size() * model->config.n_vocab);
    backend->forward(seq, 0, logits, true);
    for (std::size_t i = prompt.size() - 1; i < seq.size(); ++i) {
      // Iterators, not &logits[end]: indexing one past the last row is out of range.
      const auto first = logits.begin() + static_cast<std::ptrdiff_t>(i * model->config.n_vocab);
      std::vector<float> row(first, first + model->config.n_vocab);
      std::partial_sort(row.begin(), row.begin() + 2, row.end(), std::greater<>());
      margins->push_back(row[0] - row[1]);
    }
  }
  return out;
}

TEST(EmbeddedModel, AgreesWithThePyTorchThatTrainedIt) {
  std::ifstream in(std::string(LOCKSTEP_SOURCE_DIR) + "/models/lockstep-kjv.reference.json");
  ASSERT_TRUE(in) << "models/lockstep-kjv.reference.json is missing";
  const auto ref = nlohmann::json::parse(in);
  auto model = model::load_embedded_model();
  const auto& tok = *model->tokenizer;
  for (const auto& p : ref["prompts"]) {
    const std::string prompt = p["prompt"];
    const auto ids = tok.encode(prompt, true, false);
    EXPECT_EQ(ids, p["input_ids"].get<std::vector<std::int32_t>>()) << prompt;

    auto backend = runtime::make_reference_backend(model, 256);
    std::vector<float> logits(model->config.n_vocab);
    backend->forward(ids, 0, logits, false);
    for (const auto& pair : p["last_logits_top10"])
      EXPECT_NEAR(logits[pair[0].get<int>()], pair[1].get<double>(), 2e-4) << prompt;

    // Greedy tokens must agree until a step where our top-2 margin is within float noise.
    const auto theirs = p["greedy_new_ids"].get<std::vector<std::int32_t>>();
    std::vector<float> margins;
    const auto ours = greedy(model, ids, static_cast<std::int64_t>(theirs.size()), &margins);
    for (std::size_t i = 0; i < std::min(ours.size(), theirs.size()); ++i) {
      if (ours[i] == theirs[i]) continue;
      EXPECT_LT(margins[i], 1e-3) << prompt << ": greedy differs at step " << i;
      break;
    }
  }
}

// Pinned greedy output (models/lockstep-kjv.gguf sha256 in models/lockstep-kjv.gguf.sha256).
TEST(EmbeddedModel, GreedyOutputIsPinned) {
  auto model = model::load_embedded_model();
  const auto& tok = *model->tokenizer;
  const auto prompt = tok.encode("And God said", true, false);
  const auto ids = greedy(model, prompt, 24);
  const std::vector<std::int32_t> expected_ids = {320, 331, 44,  1340, 920, 386, 44,  267, 357, 583, 892, 395,
                                                 288, 258, 339, 366, 386, 44,  267, 583, 671, 395, 422, 268};
  EXPECT_EQ(ids, expected_ids);
  EXPECT_EQ(tok.decode(ids),
            " unto him, Thou art God, and thou hast given thee to the LORD thy God, and hast "
            "brought thee out of");
}

}  // namespace
}  // namespace lockstep
