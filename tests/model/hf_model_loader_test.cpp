// Hugging Face directories: a tiny model written in a temp folder (config.json, one file or two
// shards with an index, tokenizer.json) loads with the right config, GGUF names and GGUF-order
// shapes; a missing tensor and an unsupported model_type give one clear error.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "model/hf_directory_builder.h"
#include "model/model_loader.h"
#include "support/paths.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::model {
namespace {

using lockstep::testing::HfSpec;
using lockstep::testing::write_hf_directory;
using numerics::TensorType;

std::string make_dir(const std::string& name, const HfSpec& spec) {
  const std::string dir = lockstep::testing::scratch_dir("hf_" + name);
  write_hf_directory(dir, spec);
  return dir;
}

std::string error_of(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(HfModelLoaderTest, LoadsASingleFile) {
  HfSpec spec;
  spec.dtype = "F16";
  const auto m = load_model(make_dir("llama", spec));
  const ModelConfig& c = m->config;
  EXPECT_EQ(m->format, "safetensors");
  EXPECT_EQ(c.architecture, Architecture::Llama);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.n_head_kv, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.n_ff, 128);
  EXPECT_EQ(c.n_vocab, 320);
  EXPECT_EQ(c.n_ctx_train, 128);
  EXPECT_EQ(c.rope_style, RopeStyle::Halves);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  // GGUF names, GGUF shape order ({in, out}), the file's storage type.
  EXPECT_EQ(m->token_embd->shape, (std::vector<std::uint64_t>{64, 320}));
  EXPECT_EQ(m->output->shape, (std::vector<std::uint64_t>{64, 320}));
  EXPECT_NE(m->output, m->token_embd);
  EXPECT_EQ(m->layers[1].wq->shape, (std::vector<std::uint64_t>{64, 64}));
  EXPECT_EQ(m->layers[1].wk->shape, (std::vector<std::uint64_t>{64, 32}));
  EXPECT_EQ(m->layers[0].wo->shape, (std::vector<std::uint64_t>{64, 64}));
  EXPECT_EQ(m->layers[0].ffn_down->shape, (std::vector<std::uint64_t>{128, 64}));
  EXPECT_EQ(m->layers[0].ffn_down->type, TensorType::F16);
  EXPECT_EQ(m->tensors.count("blk.1.ffn_gate.weight"), 1u);
  // The tokenizer: 300 tokens for 320 embedding rows is allowed.
  EXPECT_EQ(m->tokenizer->n_vocab(), 300);
  const auto ids = m->tokenizer->encode("the tea", false, false);
  EXPECT_EQ(m->tokenizer->decode(ids), "the tea");
}

TEST(HfModelLoaderTest, ShardsLoadLikeOneFile) {
  HfSpec spec;
  const auto one = load_model(make_dir("one", spec));
  spec.shards = 2;
  const std::string dir = make_dir("two", spec);
  EXPECT_TRUE(std::filesystem::exists(dir + "/model.safetensors.index.json"));
  const auto two = load_model(dir);
  EXPECT_EQ(two->mappings.size(), 2u);
  ASSERT_EQ(one->tensors.size(), two->tensors.size());
  for (const auto& [name, t] : one->tensors) {
    const auto& u = two->tensors.at(name);
    EXPECT_EQ(t.shape, u.shape) << name;
    ASSERT_EQ(t.data.size(), u.data.size()) << name;
    EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), u.data.begin())) << name;
  }
}

TEST(HfModelLoaderTest, QwenVariantsLoad) {
  HfSpec q2;
  q2.model_type = "qwen2";
  q2.tied = true;
  q2.dtype = "BF16";
  const auto m2 = load_model(make_dir("qwen2", q2));
  EXPECT_EQ(m2->config.architecture, Architecture::Qwen2);
  EXPECT_TRUE(m2->config.qkv_bias);
  EXPECT_TRUE(m2->config.tied_embeddings);
  EXPECT_EQ(m2->output, m2->token_embd);
  ASSERT_NE(m2->layers[0].bq, nullptr);
  EXPECT_EQ(m2->layers[0].bk->shape, (std::vector<std::uint64_t>{32}));

  HfSpec q3;
  q3.model_type = "qwen3";
  q3.head_dim = 32;  // != hidden / heads, as in the real Qwen3 models
  const auto m3 = load_model(make_dir("qwen3", q3));
  EXPECT_EQ(m3->config.head_dim, 32);
  EXPECT_TRUE(m3->config.qk_norm);
  EXPECT_EQ(m3->layers[0].wq->shape, (std::vector<std::uint64_t>{64, 128}));
  EXPECT_EQ(m3->layers[0].q_norm->shape, (std::vector<std::uint64_t>{32}));
}

TEST(HfModelLoaderTest, Llama3RopeScaling) {
  HfSpec spec;
  spec.llama3_scaling = true;
  const auto m = load_model(make_dir("llama3", spec));
  EXPECT_EQ(m->config.rope_freq_factors,
            llama3_rope_freq_factors(16, 10000.0, 8.0, 1.0, 4.0, 32.0));
}

TEST(HfModelLoaderTest, MissingTensorIsNamed) {
  HfSpec spec;
  spec.skip = {"model.layers.1.mlp.up_proj.weight"};
  const std::string e = error_of(make_dir("missing", spec));
  EXPECT_NE(e.find("blk.1.ffn_up.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

TEST(HfModelLoaderTest, UnsupportedArchitecture) {
  HfSpec spec;
  spec.model_type = "gpt_neox";
  const std::string e = error_of(make_dir("neox", spec));
  EXPECT_NE(e.find("unsupported architecture"), std::string::npos) << e;
  EXPECT_NE(e.find("gpt_neox"), std::string::npos) << e;
}

TEST(HfModelLoaderTest, BrokenDirectories) {
  const std::string empty = lockstep::testing::scratch_dir("hf_empty");
  EXPECT_NE(error_of(empty).find("config.json"), std::string::npos);
  HfSpec spec;
  const std::string dir = make_dir("no_tokenizer", spec);
  std::filesystem::remove(dir + "/tokenizer.json");
  EXPECT_NE(error_of(dir).find("tokenizer.json"), std::string::npos);
  const std::string bad_shape = make_dir("bad_shape", spec);
  lockstep::testing::write_text(bad_shape + "/config.json",
                                R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 100,
                                    "num_hidden_layers": 2, "num_attention_heads": 4,
                                    "num_key_value_heads": 2, "vocab_size": 320})");
  const std::string e = error_of(bad_shape);
  EXPECT_NE(e.find("ffn_gate"), std::string::npos) << e;
  HfSpec sharded;
  sharded.shards = 2;
  const std::string lost = make_dir("lost_shard", sharded);
  std::filesystem::remove(lost + "/model-00002-of-00002.safetensors");
  EXPECT_FALSE(error_of(lost).empty());
}

}  // namespace
}  // namespace lockstep::model
