// write_model_as_gguf (`lockstep convert`): Hugging Face llama weights get llama.cpp's q/k row
// permutation and then compute the same logits with adjacent-pair RoPE; qwen keeps its rows;
// Llama-3 factors become rope_freqs.weight; the vocabulary is padded to the embedding; a GGUF
// converted to its own type is unchanged.
#include "model/gguf_export.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "format/gguf_file.h"
#include "model/hf_directory_builder.h"
#include "model/model_loader.h"
#include "reference/transformer.h"
#include "support/paths.h"
#include "support/run_command.h"
#include "tokenizer/tokenizer.h"

namespace lockstep::model {
namespace {

using lockstep::testing::HfSpec;
using numerics::TensorType;

std::vector<float> logits_of(const std::shared_ptr<const Model>& m,
                             const std::vector<std::int32_t>& tokens) {
  reference::Transformer t(m);
  reference::KvCache cache(m->config, 32);
  std::vector<float> logits(tokens.size() * static_cast<std::size_t>(m->config.n_vocab));
  t.forward(tokens, 0, cache, logits, true);
  return logits;
}

// Converts `m` to `type` in a scratch folder and loads the result.
std::shared_ptr<const Model> convert(const std::shared_ptr<const Model>& m, TensorType type,
                                     const std::string& name, std::vector<std::string>* log = nullptr) {
  const std::string path = lockstep::testing::scratch_dir("export_" + name) + "/out.gguf";
  write_model_as_gguf(*m, m->tokenizer->vocabulary(), type, path,
                      [log](const std::string& line) { if (log) log->push_back(line); });
  return load_model(path);
}

std::shared_ptr<const Model> hf_model(const std::string& name, const HfSpec& spec) {
  const std::string dir = lockstep::testing::scratch_dir("export_hf_" + name);
  lockstep::testing::write_hf_directory(dir, spec);
  return load_model(dir);
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, float tolerance) {
  ASSERT_EQ(a.size(), b.size());
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LE(worst, tolerance);
}

const std::vector<std::int32_t> kTokens{299, 5, 17, 260, 3, 100, 42, 7, 288, 1};

TEST(GgufExportTest, HuggingFaceLlamaIsPermutedAndComputesTheSame) {
  const auto hf = hf_model("llama", HfSpec{});
  const auto gguf = convert(hf, TensorType::F32, "llama");
  EXPECT_EQ(gguf->config.architecture, Architecture::Llama);
  EXPECT_EQ(gguf->config.rope_style, RopeStyle::AdjacentPairs);
  EXPECT_EQ(gguf->config.parameter_count(), hf->config.parameter_count());

  // Row h*hd + 2i + j of the file is row h*hd + j*hd/2 + i of the Hugging Face matrix.
  const std::uint64_t hd = 16, row_bytes = 64 * 4;
  for (const char* which : {"attn_q", "attn_k"}) {
    const auto& src = hf->tensors.at(std::string("blk.1.") + which + ".weight");
    const auto& dst = gguf->tensors.at(std::string("blk.1.") + which + ".weight");
    ASSERT_EQ(src.shape, dst.shape);
    for (std::uint64_t row = 0; row < dst.row_count(); ++row) {
      const std::uint64_t h = row / hd, i = (row % hd) / 2, j = row % 2;
      const std::uint64_t from = h * hd + j * (hd / 2) + i;
      EXPECT_EQ(std::memcmp(dst.data.data() + row * row_bytes, src.data.data() + from * row_bytes, row_bytes), 0)
          << which << " row " << row;
    }
  }
  const auto& v_src = hf->tensors.at("blk.0.attn_v.weight");
  const auto& v_dst = gguf->tensors.at("blk.0.attn_v.weight");
  EXPECT_EQ(std::memcmp(v_src.data.data(), v_dst.data.data(), v_src.data.size()), 0);

  expect_close(logits_of(hf, kTokens), logits_of(gguf, kTokens), 1e-4f);
}

TEST(GgufExportTest, VocabularyIsPaddedAndNamed) {
  const auto hf = hf_model("vocab", HfSpec{});
  const std::string path = lockstep::testing::scratch_dir("export_vocab") + "/out.gguf";
  write_model_as_gguf(*hf, hf->tokenizer->vocabulary(), TensorType::F16, path);
  const GgufFile g = GgufFile::open(path);
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(g.get_string("tokenizer.ggml.pre"), "llama-bpe");  // found by what the regex does
  const auto tokens = g.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 320u);
  EXPECT_EQ(tokens[300], "[PAD300]");
  EXPECT_EQ(g.get_int_array("tokenizer.ggml.token_type")[319], 5);  // unused
  EXPECT_EQ(g.get_uint("llama.vocab_size"), 320u);
  EXPECT_EQ(g.get_uint("general.file_type"), 1u);
  const auto m = model_from_gguf(g);
  EXPECT_EQ(m->tokenizer->n_vocab(), 320);
  for (const char* text : {"the tea is hot", "It's 2024!", "tea\n\nthe"}) {
    EXPECT_EQ(m->tokenizer->encode(text, true, false), hf->tokenizer->encode(text, true, false)) << text;
  }
}

TEST(GgufExportTest, QwenKeepsItsRowsAndComputesTheSame) {
  HfSpec spec;
  spec.model_type = "qwen2";
  spec.tied = true;
  const auto hf = hf_model("qwen2", spec);
  const auto gguf = convert(hf, TensorType::F32, "qwen2");
  EXPECT_EQ(gguf->config.architecture, Architecture::Qwen2);
  EXPECT_TRUE(gguf->config.qkv_bias);
  EXPECT_TRUE(gguf->config.tied_embeddings);
  EXPECT_EQ(gguf->tensors.count("output.weight"), 0u);
  const auto& q_src = hf->tensors.at("blk.0.attn_q.weight");
  const auto& q_dst = gguf->tensors.at("blk.0.attn_q.weight");
  EXPECT_EQ(std::memcmp(q_src.data.data(), q_dst.data.data(), q_src.data.size()), 0);
  expect_close(logits_of(hf, kTokens), logits_of(gguf, kTokens), 1e-4f);

  const GgufFile g = GgufFile::open(gguf->source);  // the file convert() wrote
  EXPECT_EQ(g.get_string("tokenizer.ggml.pre"), "qwen2");
}

TEST(GgufExportTest, Qwen3AndBf16Source) {
  HfSpec spec;
  spec.model_type = "qwen3";
  spec.head_dim = 32;
  spec.dtype = "BF16";
  const auto hf = hf_model("qwen3", spec);
  const auto gguf = convert(hf, TensorType::F32, "qwen3");
  EXPECT_EQ(gguf->config.head_dim, 32);
  EXPECT_EQ(gguf->layers[0].q_norm->type, TensorType::F32);
  expect_close(logits_of(hf, kTokens), logits_of(gguf, kTokens), 1e-4f);
}

TEST(GgufExportTest, Llama3FactorsBecomeRopeFreqs) {
  HfSpec spec;
  spec.llama3_scaling = true;
  const auto hf = hf_model("llama3", spec);
  const auto gguf = convert(hf, TensorType::F32, "llama3");
  ASSERT_EQ(gguf->tensors.count("rope_freqs.weight"), 1u);
  EXPECT_EQ(gguf->config.rope_freq_factors, hf->config.rope_freq_factors);
  expect_close(logits_of(hf, kTokens), logits_of(gguf, kTokens), 1e-4f);
}

TEST(GgufExportTest, GgufToItsOwnTypeIsUnchanged) {
  const std::string src = lockstep::testing::scratch_dir("export_synthetic") + "/src.gguf";
  SyntheticModelOptions options;
  options.matrix_type = TensorType::F32;
  write_synthetic_model(load_catalog_entry("tiny-qwen3"), options, src);
  const auto original = load_model(src);
  const auto copy = convert(original, TensorType::F32, "synthetic_copy");
  for (const auto& [name, t] : original->tensors) {
    const auto& u = copy->tensors.at(name);
    ASSERT_EQ(t.data.size(), u.data.size()) << name;
    EXPECT_EQ(std::memcmp(t.data.data(), u.data.data(), t.data.size()), 0) << name;
  }
  EXPECT_EQ(logits_of(original, kTokens), logits_of(copy, kTokens));
}

TEST(GgufExportTest, QuantizedTargetsWithFallback) {
  const auto hf = hf_model("quantized", HfSpec{});
  std::vector<std::string> log;
  const auto q = convert(hf, TensorType::Q4_K, "q4k", &log);
  // Rows of 64 and 128 values are not whole q4_K super-blocks: they become q4_0, with a warning.
  EXPECT_EQ(q->layers[0].wq->type, TensorType::Q4_0);
  EXPECT_EQ(q->layers[0].attn_norm->type, TensorType::F32);
  bool warned = false;
  for (const auto& line : log) warned = warned || line.find("q4_0 instead") != std::string::npos;
  EXPECT_TRUE(warned);
  const auto q8 = convert(hf, TensorType::Q8_0, "q8");
  EXPECT_EQ(q8->layers[1].ffn_down->type, TensorType::Q8_0);
  // Quantization error only: the logits stay close to the f32 model's.
  const auto a = logits_of(hf, kTokens), b = logits_of(q8, kTokens);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += a[i] * a[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), 0.05);
}

// `lockstep convert` on a Hugging Face directory and on a GGUF file.
TEST(GgufExportTest, ConvertCommand) {
  const std::string dir = lockstep::testing::scratch_dir("convert_cli");
  lockstep::testing::write_hf_directory(dir + "/hf", HfSpec{});
  const auto from_hf = lockstep::testing::run_lockstep(
      {"convert", dir + "/hf", "-o", dir + "/a.gguf", "--type", "q8_0"});
  EXPECT_EQ(from_hf.exit_code, 0) << from_hf.err;
  const auto a = load_model(dir + "/a.gguf");
  EXPECT_EQ(a->config.rope_style, RopeStyle::AdjacentPairs);
  EXPECT_EQ(a->layers[0].wq->type, TensorType::Q8_0);
  const auto from_gguf = lockstep::testing::run_lockstep(
      {"convert", dir + "/a.gguf", "-o", dir + "/b.gguf", "--type", "f32"});
  EXPECT_EQ(from_gguf.exit_code, 0) << from_gguf.err;
  EXPECT_EQ(load_model(dir + "/b.gguf")->layers[0].wq->type, TensorType::F32);
  const auto same = lockstep::testing::run_lockstep({"convert", dir + "/a.gguf", "-o", dir + "/a.gguf"});
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_NE(same.err.find("is the input model"), std::string::npos) << same.err;
}

}  // namespace
}  // namespace lockstep::model
