// The quantized model fixtures of ../shared/fixtures/models (and of ../moe, named "../moe/...")
// with the F32 master each was made from by llama.cpp's llama-quantize (--pure, or the Q4_K_M
// and MXFP4_MOE mixtures), for tests that compare lockstep's quantizers and dequantizers with
// llama.cpp's.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace lockstep::testing {

struct QuantizedFixture {
  const char* quantized;  // e.g. "llama-q4_k.gguf"
  const char* master;     // its F32 source, e.g. "llama-f32.gguf"
};

inline void PrintTo(const QuantizedFixture& c, std::ostream* os) { *os << c.quantized; }

inline std::vector<QuantizedFixture> quantized_fixtures() {
  return {{"llama-q8_0.gguf", "llama-f32.gguf"},     {"llama-q4_0.gguf", "llama-f32.gguf"},
          {"llama-q4_k.gguf", "llama-f32.gguf"},     {"llama-q6_k.gguf", "llama-f32.gguf"},
          {"llama-f16.gguf", "llama-f32.gguf"},      {"llama-bf16.gguf", "llama-f32.gguf"},
          {"llama3-q4_k_m.gguf", "llama3-f32.gguf"}, {"llama3-q8_0.gguf", "llama3-f32.gguf"},
          {"qwen2-q8_0.gguf", "qwen2-f32.gguf"},     {"qwen3-q8_0.gguf", "qwen3-f32.gguf"},
          // MoE: MXFP4 experts (and Q8_0 matrices), 3-D expert tensors in Q8_0.
          {"../moe/gpt-oss-mxfp4_moe.gguf", "../moe/gpt-oss-f32.gguf"},
          {"../moe/mixtral-q8_0.gguf", "../moe/mixtral-f32.gguf"},
          {"../moe/qwen3moe-q8_0.gguf", "../moe/qwen3moe-f32.gguf"}};
}

// "llama3-q4_k_m.gguf" -> "llama3_q4_k_m", "../moe/gpt-oss-mxfp4_moe.gguf" -> "gpt_oss_mxfp4_moe":
// a valid GoogleTest parameter name.
inline std::string quantized_fixture_name(
    const ::testing::TestParamInfo<QuantizedFixture>& info) {
  std::string name = info.param.quantized;
  name = name.substr(name.rfind('/') + 1);  // npos + 1 = 0 without a folder
  name = name.substr(0, name.find('.'));
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

}  // namespace lockstep::testing
