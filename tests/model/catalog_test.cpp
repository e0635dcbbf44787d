// The model-shape catalog: every shape loads; the parameter counts of well-known models match
// their published sizes; malformed catalog files give one error naming the file and the key.
#include "model/catalog.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/paths.h"

namespace lockstep::model {
namespace {

TEST(CatalogTest, EveryShapeLoads) {
  const auto names = catalog_shape_names();
  ASSERT_GE(names.size(), 26u);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const CatalogShape s = load_catalog_entry(name);
    EXPECT_EQ(s.name, name);
    EXPECT_FALSE(s.source.empty());
    const ModelConfig& c = s.config;
    EXPECT_GT(c.parameter_count(), 0u);
    EXPECT_EQ(c.n_head % c.n_head_kv, 0);
    EXPECT_EQ(c.head_dim % 2, 0);
    const bool qwen = c.architecture == Architecture::Qwen2 || c.architecture == Architecture::Qwen3;
    EXPECT_EQ(c.rope_style, qwen ? RopeStyle::Halves : RopeStyle::AdjacentPairs);
    EXPECT_EQ(c.qkv_bias, c.architecture == Architecture::Qwen2);
    EXPECT_EQ(c.qk_norm, c.architecture == Architecture::Qwen3);
    if (!c.rope_freq_factors.empty())
      EXPECT_EQ(static_cast<std::int64_t>(c.rope_freq_factors.size()), c.head_dim / 2);
  }
  for (const char* required :
       {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b",
        "llama-3.3-70b", "llama-3.2-1b", "llama-3.2-3b", "tinyllama-1.1b", "mistral-7b",
        "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b", "qwen2.5-32b",
        "qwen2.5-72b", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b",
        "qwen3-32b", "tiny", "tiny-qwen2", "tiny-qwen3"})
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
}

TEST(CatalogTest, ParameterCountsMatchPublishedSizes) {
  const std::vector<std::pair<std::string, double>> published{
      {"llama-2-7b", 6.74e9},    {"llama-2-70b", 68.98e9}, {"llama-3.1-8b", 8.03e9},
      {"tinyllama-1.1b", 1.10e9}, {"qwen2.5-0.5b", 0.49e9}, {"qwen3-8b", 8.19e9},
      {"llama-2-13b", 13.02e9},  {"llama-3.1-70b", 70.55e9}, {"llama-3.2-1b", 1.24e9},
      {"llama-3.2-3b", 3.21e9},  {"mistral-7b", 7.25e9},   {"qwen2.5-7b", 7.62e9},
      {"qwen2.5-72b", 72.7e9},   {"qwen3-0.6b", 0.596e9},  {"qwen3-32b", 32.8e9},
  };
  for (const auto& [name, size] : published) {
    const double count = static_cast<double>(load_catalog_shape(name).parameter_count());
    EXPECT_NEAR(count / size, 1.0, 0.02) << name << ": " << count;
  }
}

TEST(CatalogTest, KnownShapesAreExact) {
  const ModelConfig l70 = load_catalog_shape("llama-2-70b");
  EXPECT_EQ(l70.n_embd, 8192);
  EXPECT_EQ(l70.n_layer, 80);
  EXPECT_EQ(l70.n_head, 64);
  EXPECT_EQ(l70.n_head_kv, 8);
  EXPECT_EQ(l70.n_ff, 28672);
  EXPECT_EQ(l70.n_vocab, 32000);
  EXPECT_EQ(l70.n_ctx_train, 4096);
  EXPECT_DOUBLE_EQ(l70.rms_eps, 1e-5);
  EXPECT_FALSE(l70.tied_embeddings);

  const ModelConfig q8 = load_catalog_shape("qwen3-8b");
  EXPECT_EQ(q8.architecture, Architecture::Qwen3);
  EXPECT_EQ(q8.n_embd, 4096);
  EXPECT_EQ(q8.n_layer, 36);
  EXPECT_EQ(q8.head_dim, 128);
  EXPECT_EQ(q8.n_ff, 12288);
  EXPECT_EQ(q8.n_vocab, 151936);
  EXPECT_TRUE(q8.qk_norm);
  EXPECT_FALSE(q8.tied_embeddings);
  EXPECT_TRUE(load_catalog_shape("qwen2.5-0.5b").tied_embeddings);

  // Llama 3.1: factor 8 over 64 frequency pairs; the highest frequencies are kept.
  const ModelConfig l31 = load_catalog_shape("llama-3.1-8b");
  ASSERT_EQ(l31.rope_freq_factors.size(), 64u);
  EXPECT_FLOAT_EQ(l31.rope_freq_factors.front(), 1.0f);
  EXPECT_FLOAT_EQ(l31.rope_freq_factors.back(), 8.0f);

  const ModelConfig tq3 = load_catalog_shape("tiny-qwen3");
  EXPECT_EQ(tq3.head_dim, 32);
  EXPECT_NE(tq3.head_dim, tq3.n_embd / tq3.n_head);
}

class CatalogFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    const std::string path = testing::scratch_dir("catalog_file_" + std::to_string(counter_++)) + "/shape.yaml";
    std::ofstream(path) << text;
    return path;
  }
  // The message of the error that loading `text` throws (empty when none).
  std::string error_of(const std::string& text) {
    const std::string path = write(text);
    try {
      load_catalog_entry(path);
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path), std::string::npos) << "error does not name the file: " << message;
      return message;
    }
    return "";
  }
  static std::string valid() {
    return "source: test\narchitecture: llama\nn_vocab: 512\nn_embd: 64\nn_layer: 2\nn_head: 4\n"
           "n_head_kv: 2\nhead_dim: 16\nn_ff: 128\nn_ctx_train: 128\nrms_eps: 1.0e-5\n"
           "rope_theta: 10000.0\ntied_embeddings: false\ntokenizer: spm\n";
  }
  static std::string replace(std::string text, const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
    return text;
  }
  int counter_ = 0;
};

TEST_F(CatalogFileTest, ValidFileLoadsFromAPath) {
  EXPECT_EQ(error_of(valid()), "");
  const CatalogShape s = load_catalog_entry(write(valid()));
  EXPECT_EQ(s.name, "shape");
  EXPECT_EQ(s.config.n_embd, 64);
  EXPECT_EQ(s.tokenizer, "spm");
}

TEST_F(CatalogFileTest, UnknownKeyIsNamed) {
  const std::string e = error_of(valid() + "n_experts: 8\n");
  EXPECT_NE(e.find("unknown key 'n_experts'"), std::string::npos) << e;
}

TEST_F(CatalogFileTest, MissingKeyIsNamed) {
  const std::string e = error_of(replace(valid(), "n_ff: 128\n", ""));
  EXPECT_NE(e.find("'n_ff'"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

TEST_F(CatalogFileTest, WrongTypesAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"n_embd: 64", "n_embd: sixty-four"},
      {"n_embd: 64", "n_embd: 64.5"},
      {"n_embd: 64", "n_embd: \"64\""},
      {"n_embd: 64", "n_embd: -64"},
      {"n_embd: 64", "n_embd: [64]"},
      {"rms_eps: 1.0e-5", "rms_eps: tiny"},
      {"rms_eps: 1.0e-5", "rms_eps: 0"},
      {"tied_embeddings: false", "tied_embeddings: 0"},
      {"architecture: llama", "architecture: gpt_neox"},
      {"tokenizer: spm", "tokenizer: wordpiece"},
  };
  for (const auto& [from, to] : cases) {
    const std::string key = to.substr(0, to.find(':'));
    const std::string e = error_of(replace(valid(), from, to));
    EXPECT_NE(e.find("'" + key + "'"), std::string::npos) << to << " -> " << e;
  }
}

TEST_F(CatalogFileTest, DuplicateKeyIsNamed) {
  const std::string e = error_of(valid() + "n_layer: 3\n");
  EXPECT_NE(e.find("'n_layer' appears twice"), std::string::npos) << e;
}

TEST_F(CatalogFileTest, RopeScalingIsValidated) {
  const std::string llama3 =
      "rope_scaling:\n  type: llama3\n  factor: 8.0\n  low_freq_factor: 1.0\n"
      "  high_freq_factor: 4.0\n  original_context_length: 8192\n";
  EXPECT_EQ(error_of(valid() + llama3), "");
  const CatalogShape s = load_catalog_entry(write(valid() + llama3));
  EXPECT_EQ(s.config.rope_freq_factors.size(), 8u);
  std::string e = error_of(valid() + replace(llama3, "  factor: 8.0\n", ""));
  EXPECT_NE(e.find("'rope_scaling.factor'"), std::string::npos) << e;
  e = error_of(valid() + llama3 + "  beta: 1\n");
  EXPECT_NE(e.find("'rope_scaling.beta'"), std::string::npos) << e;
  e = error_of(valid() + "rope_scaling:\n  type: yarn\n  factor: 4.0\n");
  EXPECT_NE(e.find("'rope_scaling.type'"), std::string::npos) << e;
  e = error_of(valid() + "rope_scaling: 8\n");
  EXPECT_NE(e.find("'rope_scaling'"), std::string::npos) << e;
}

TEST_F(CatalogFileTest, BrokenYamlAndInconsistentShapes) {
  std::string e = error_of("source: [unterminated\n");
  EXPECT_NE(e.find("YAML"), std::string::npos) << e;
  e = error_of("");
  EXPECT_NE(e.find("empty"), std::string::npos) << e;
  e = error_of("- a list\n- not a mapping\n");
  EXPECT_NE(e.find("mapping"), std::string::npos) << e;
  e = error_of(replace(valid(), "n_head_kv: 2", "n_head_kv: 3"));
  EXPECT_NE(e.find("n_head_kv"), std::string::npos) << e;
  e = error_of(replace(valid(), "head_dim: 16", "head_dim: 15"));
  EXPECT_NE(e.find("head_dim"), std::string::npos) << e;
}

TEST(CatalogTest, UnknownNameListsTheCatalog) {
  try {
    load_catalog_shape("llama-9-9000b");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("llama-9-9000b"), std::string::npos);
    EXPECT_NE(message.find("tinyllama-1.1b"), std::string::npos);
  }
  EXPECT_THROW(load_catalog_shape("../configs/models/tiny"), Error);
}

TEST(CatalogTest, ConfigDirFromEnvironment) {
  const std::string dir = catalog_config_dir();
  ASSERT_EQ(setenv("LOCKSTEP_CONFIG_DIR", dir.c_str(), 1), 0);
  EXPECT_EQ(catalog_config_dir(), dir);
  const std::string empty = testing::scratch_dir("catalog_empty_config");
  ASSERT_EQ(setenv("LOCKSTEP_CONFIG_DIR", empty.c_str(), 1), 0);
  EXPECT_THROW(catalog_config_dir(), Error);
  unsetenv("LOCKSTEP_CONFIG_DIR");
}

}  // namespace
}  // namespace lockstep::model
