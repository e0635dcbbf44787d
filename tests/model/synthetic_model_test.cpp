// Synthetic models: every tiny architecture in every type loads with the shape's config and a
// working tokenizer; the same seed gives the same bytes (at any thread count), another seed
// other bytes; the weights have the documented distributions.
#include "model/synthetic_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "core/error.h"
#include "model/gguf_export.h"
#include "model/model_loader.h"
#include "numerics/dequantize.h"
#include "support/paths.h"
#include "support/run_command.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::model {
namespace {

using numerics::TensorType;

// blk.0.attn_q.weight[0..1] of `make-model --shape tiny --type f32 --seed 1`:
// -0.19102935f and 0.07305761f.
constexpr std::uint32_t kPinnedBits0 = 0xbe439d33u;
constexpr std::uint32_t kPinnedBits1 = 0x3d959f3au;

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string make(const std::string& shape, TensorType type, std::uint64_t seed,
                 const std::string& file, unsigned threads = 1) {
  const std::string path = testing::scratch_dir("synthetic_" + file) + "/" + file + ".gguf";
  SyntheticModelOptions options;
  options.matrix_type = type;
  options.seed = seed;
  options.threads = threads;
  write_synthetic_model(load_catalog_entry(shape), options, path);
  return path;
}

std::vector<float> dequantized(const TensorView& t) {
  std::vector<float> out(t.element_count());
  const std::uint64_t row_bytes = numerics::tensor_bytes(t.type, t.row_length());
  for (std::uint64_t r = 0; r < t.row_count(); ++r)
    numerics::dequantize_row(t.type, t.data.data() + r * row_bytes, out.data() + r * t.row_length(),
                             static_cast<std::int64_t>(t.row_length()));
  return out;
}

TEST(SyntheticModelTest, EveryArchitectureAndTypeLoads) {
  const std::vector<TensorType> types{TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                      TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K,
                                      TensorType::Q6_K};
  for (const std::string shape : {"tiny", "tiny-llama3", "tiny-qwen2", "tiny-qwen3"}) {
    const CatalogShape s = load_catalog_entry(shape);
    for (TensorType type : types) {
      const std::string type_name = numerics::tensor_type_info(type).name;
      SCOPED_TRACE(shape + " " + type_name);
      const std::string path = make(shape, type, 5, shape + "-" + type_name);
      const auto m = load_model(path);
      const ModelConfig& c = m->config;
      const ModelConfig& e = s.config;
      EXPECT_EQ(c.architecture, e.architecture);
      EXPECT_EQ(c.n_vocab, e.n_vocab);
      EXPECT_EQ(c.n_embd, e.n_embd);
      EXPECT_EQ(c.n_layer, e.n_layer);
      EXPECT_EQ(c.n_head, e.n_head);
      EXPECT_EQ(c.n_head_kv, e.n_head_kv);
      EXPECT_EQ(c.head_dim, e.head_dim);
      EXPECT_EQ(c.n_ff, e.n_ff);
      EXPECT_EQ(c.n_ctx_train, e.n_ctx_train);
      EXPECT_FLOAT_EQ(static_cast<float>(c.rms_eps), static_cast<float>(e.rms_eps));
      EXPECT_FLOAT_EQ(static_cast<float>(c.rope_theta), static_cast<float>(e.rope_theta));
      EXPECT_EQ(c.rope_style, e.rope_style);
      EXPECT_EQ(c.rope_freq_factors, e.rope_freq_factors);
      EXPECT_EQ(c.tied_embeddings, e.tied_embeddings);
      EXPECT_EQ(c.qkv_bias, e.qkv_bias);
      EXPECT_EQ(c.qk_norm, e.qk_norm);
      EXPECT_EQ(c.parameter_count(), e.parameter_count());
      EXPECT_EQ(c.name, "lockstep-synthetic-" + shape);

      for (const auto& [name, t] : m->tensors) {
        if (t.shape.size() == 1) {
          EXPECT_EQ(t.type, TensorType::F32) << name;
        } else {
          EXPECT_EQ(t.type, storage_type_for_rows(type, t.row_length())) << name;
        }
      }

      const auto& tok = *m->tokenizer;
      EXPECT_EQ(tok.n_vocab(), e.n_vocab);
      const auto ids = tok.encode("the cat sat on a mat", false, false);
      EXPECT_FALSE(ids.empty());
      EXPECT_LT(ids.size(), 20u);  // pieces longer than one byte are used
      EXPECT_EQ(tok.decode(ids), "the cat sat on a mat");
      if (s.tokenizer == "spm") {
        EXPECT_EQ(tok.vocabulary().kind, tokenizer::VocabKind::SentencePiece);
        EXPECT_EQ(tok.bos_id(), 1);
        EXPECT_EQ(tok.eos_id(), 2);
      } else {
        EXPECT_EQ(tok.vocabulary().kind, tokenizer::VocabKind::ByteLevelBpe);
        ASSERT_TRUE(tok.eos_id().has_value());
        EXPECT_EQ(*tok.eos_id(), e.n_vocab - (shape == "tiny-llama3" ? 2 : 1));
      }
    }
  }
}

TEST(SyntheticModelTest, SameSeedSameBytesOtherSeedOtherBytes) {
  const auto a = read_bytes(make("tiny-qwen3", TensorType::Q8_0, 11, "seed_a", 1));
  const auto b = read_bytes(make("tiny-qwen3", TensorType::Q8_0, 11, "seed_b", 3));
  const auto c = read_bytes(make("tiny-qwen3", TensorType::Q8_0, 12, "seed_c", 1));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

// A fixed seed gives fixed bits: these were computed once and must never change (the streams
// are specified in synthetic_model.h; a change makes every synthetic file different).
TEST(SyntheticModelTest, BitsArePinned) {
  const auto m = load_model(make("tiny", TensorType::F32, 1, "pinned"));
  const auto& t = m->tensors.at("blk.0.attn_q.weight");
  float first[2];
  std::memcpy(first, t.data.data(), sizeof first);
  std::uint32_t bits[2];
  std::memcpy(bits, first, sizeof bits);
  // Regenerate the constants with: lockstep make-model --shape tiny --type f32 --seed 1.
  EXPECT_EQ(bits[0], kPinnedBits0);
  EXPECT_EQ(bits[1], kPinnedBits1);
}

TEST(SyntheticModelTest, WeightsFollowTheRecipe) {
  const auto m = load_model(make("tiny", TensorType::F32, 2, "stats"));
  const double n_embd = 64, n_ff = 128, q_dim = 64;
  struct Expect {
    std::string name;
    double mean, stddev;
  };
  const std::vector<Expect> expected{
      {"token_embd.weight", 0.0, 0.5 * 16 / std::sqrt(n_embd)},   // untied
      {"output.weight", 0.0, 0.25 * 16 / std::sqrt(n_embd)},
      {"blk.0.attn_q.weight", 0.0, 1 / std::sqrt(n_embd)},
      {"blk.1.ffn_up.weight", 0.0, 1 / std::sqrt(n_embd)},
      {"blk.0.attn_output.weight", 0.0, 1 / std::sqrt(q_dim)},
      {"blk.1.ffn_down.weight", 0.0, 1 / std::sqrt(n_ff)},
  };
  for (const auto& e : expected) {
    const auto v = dequantized(m->tensors.at(e.name));
    double sum = 0, sq = 0;
    for (float x : v) sum += x;
    const double mean = sum / v.size();
    for (float x : v) sq += (x - mean) * (x - mean);
    const double sd = std::sqrt(sq / v.size());
    const double se = e.stddev / std::sqrt(static_cast<double>(v.size()));
    EXPECT_NEAR(mean, e.mean, 5 * se) << e.name;
    EXPECT_NEAR(sd / e.stddev, 1.0, 0.05) << e.name;
  }
  const auto norm = dequantized(m->tensors.at("blk.0.attn_norm.weight"));
  double sum = 0;
  for (float x : norm) sum += x;
  EXPECT_NEAR(sum / norm.size(), 1.0, 0.05);

  // Tied shapes use the larger residual branches (r = 4).
  const auto q = load_model(make("tiny-qwen2", TensorType::F32, 2, "stats_tied"));
  const auto wo = dequantized(q->tensors.at("blk.0.attn_output.weight"));
  double sq = 0;
  for (float x : wo) sq += static_cast<double>(x) * x;
  EXPECT_NEAR(std::sqrt(sq / wo.size()) / (4 / std::sqrt(q_dim)), 1.0, 0.1);
}

TEST(SyntheticModelTest, Llama3ScalingIsWrittenAsRopeFreqs) {
  const auto m = load_model(make("tiny-llama3", TensorType::F16, 1, "llama3"));
  const auto& freqs = m->tensors.at("rope_freqs.weight");
  EXPECT_EQ(freqs.type, TensorType::F32);
  EXPECT_EQ(freqs.shape, (std::vector<std::uint64_t>{8}));
  EXPECT_EQ(m->config.rope_freq_factors, load_catalog_shape("tiny-llama3").rope_freq_factors);
  EXPECT_EQ(m->tensors.count("output.weight"), 0u);  // tied
}

TEST(SyntheticModelTest, VocabulariesAreConsistent) {
  ModelConfig c = load_catalog_shape("tiny-qwen2");
  c.n_vocab = 2000;
  const auto bpe = synthetic_vocabulary(c, "bpe");
  ASSERT_EQ(bpe.tokens.size(), 2000u);
  std::set<std::string> seen;
  for (const auto& t : bpe.tokens) EXPECT_TRUE(seen.insert(t).second) << t;
  ASSERT_EQ(bpe.merges.size(), 2000u - 256 - 3);
  for (std::size_t i = 0; i < bpe.merges.size(); ++i) {
    const auto& [left, right] = bpe.merges[i];
    EXPECT_EQ(bpe.tokens[256 + i], left + right);
    const auto before = [&](const std::string& s) {
      for (std::size_t j = 0; j < 256 + i; ++j)
        if (bpe.tokens[j] == s) return true;
      return false;
    };
    EXPECT_TRUE(before(left)) << left;
    EXPECT_TRUE(before(right)) << right;
  }
  EXPECT_EQ(bpe.tokens[1997], "<|endoftext|>");
  EXPECT_EQ(bpe.tokens[1998], "<|im_start|>");
  EXPECT_EQ(bpe.tokens[1999], "<|im_end|>");
  EXPECT_EQ(bpe.pre_tokenizer, "qwen2");
  EXPECT_FALSE(bpe.add_bos);

  c = load_catalog_shape("tiny");
  c.n_vocab = 40000;
  const auto spm = synthetic_vocabulary(c, "spm");
  ASSERT_EQ(spm.tokens.size(), 40000u);
  seen.clear();
  for (const auto& t : spm.tokens) EXPECT_TRUE(seen.insert(t).second) << t;
  EXPECT_EQ(spm.tokens[0], "<unk>");
  EXPECT_EQ(spm.tokens[3], "<0x00>");
  for (std::size_t i = 260; i < spm.scores.size(); ++i) EXPECT_LT(spm.scores[i], spm.scores[i - 1]);

  c.n_vocab = 200;
  EXPECT_THROW(synthetic_vocabulary(c, "spm"), Error);
  EXPECT_THROW(synthetic_vocabulary(c, "bpe"), Error);
  EXPECT_THROW(synthetic_vocabulary(c, "wordpiece"), Error);
}

TEST(SyntheticModelTest, BlockFallbackIsReported) {
  std::vector<std::string> messages;
  SyntheticModelOptions options;
  options.matrix_type = TensorType::Q6_K;
  options.log = [&](const std::string& m) { messages.push_back(m); };
  const std::string path = testing::scratch_dir("synthetic_fallback") + "/m.gguf";
  write_synthetic_model(load_catalog_entry("tiny"), options, path);
  bool warned = false;
  for (const auto& m : messages)
    if (m.find("warning") != std::string::npos && m.find("q8_0") != std::string::npos) warned = true;
  EXPECT_TRUE(warned);
  EXPECT_EQ(load_model(path)->tensors.at("blk.0.attn_q.weight").type, TensorType::Q8_0);
}

// The command line: make-model --list, a model that loads, and one-sentence errors.
TEST(SyntheticModelTest, MakeModelCommand) {
  const auto list = lockstep::testing::run_lockstep({"make-model", "--list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("tinyllama-1.1b"), std::string::npos);
  EXPECT_NE(list.out.find("68.98 B"), std::string::npos);  // Llama-2-70B

  const std::string path = testing::scratch_dir("make_model_cli") + "/tiny.gguf";
  const auto made = lockstep::testing::run_lockstep(
      {"make-model", "--shape", "tiny-qwen2", "--type", "q8_0", "--seed", "9", "-o", path});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  EXPECT_NE(made.err.find("wrote"), std::string::npos) << made.err;
  EXPECT_EQ(load_model(path)->config.architecture, Architecture::Qwen2);

  const auto bad_type = lockstep::testing::run_lockstep(
      {"make-model", "--shape", "tiny", "--type", "q5_k", "-o", path + ".x"});
  EXPECT_EQ(bad_type.exit_code, 1);
  EXPECT_NE(bad_type.err.find("q5_k"), std::string::npos) << bad_type.err;
  const auto bad_shape = lockstep::testing::run_lockstep(
      {"make-model", "--shape", "gpt-5", "-o", path + ".x"});
  EXPECT_EQ(bad_shape.exit_code, 1);
  EXPECT_NE(bad_shape.err.find("unknown model shape 'gpt-5'"), std::string::npos) << bad_shape.err;
}

}  // namespace
}  // namespace lockstep::model
