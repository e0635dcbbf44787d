// Writes the seed corpora of the fuzzers (run at build time by fuzz/CMakeLists.txt; nothing
// binary is committed): seed_corpus OUT_DIR fills OUT_DIR/gguf_fuzz, OUT_DIR/safetensors_fuzz,
// OUT_DIR/program_fuzz, OUT_DIR/completion_request_fuzz, OUT_DIR/content_encoding_fuzz with small files (the binary formats
// made by lockstep's own writers):
//   - GGUF: micro models of every architecture (llama SentencePiece, llama3 with rope_freqs,
//     qwen2 with biases, qwen3 with q/k norms) in several tensor types, one with q4_K / q6_K
//     rows, and a metadata-only file with every value type;
//   - safetensors: F32 / F16 / BF16 / integer tensors, metadata, and an empty file;
//   - LPU programs: random valid programs (tests/support/random_program.h), each as binary and
//     as assembly, and an empty one;
//   - server request bodies: valid chat and completions requests and near misses.
// The files are a few kilobytes so that libFuzzer's default input length stays small.
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <string>
#include <utility>
#include <zlib.h>

#include "model/catalog.h"
#include "format/gguf_writer.h"
#include "model/safetensors_builder.h"
#include "model/synthetic_model.h"
#include "lpu/program/program_asm.h"
#include "lpu/program/program_binary.h"
#include "support/random_program.h"

namespace {

using namespace lockstep;
namespace fs = std::filesystem;

model::CatalogShape micro(const std::string& base, std::int64_t n_embd, std::int64_t head_dim) {
  model::CatalogShape s = model::load_catalog_entry(base);
  auto& c = s.config;
  c.n_vocab = 262;  // the smallest vocabularies the synthetic tokenizers allow
  c.n_embd = n_embd;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = head_dim;
  c.n_ff = n_embd;
  c.n_ctx_train = 64;
  if (!c.rope_freq_factors.empty())
    c.rope_freq_factors = model::llama3_rope_freq_factors(head_dim, c.rope_theta, 8, 1, 4, 32);
  return s;
}

void write_gguf_seeds(const fs::path& dir) {
  using numerics::TensorType;
  int n = 0;
  auto make = [&](const model::CatalogShape& shape, TensorType type) {
    model::SyntheticModelOptions options;
    options.matrix_type = type;
    options.seed = static_cast<std::uint64_t>(n + 1);
    options.threads = 1;
    model::write_synthetic_model(shape, options, (dir / fmt::format("model-{:02d}.gguf", n++)).string());
  };
  for (const char* base : {"tiny", "tiny-llama3", "tiny-qwen2", "tiny-qwen3"})
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0, TensorType::F16, TensorType::BF16})
      make(micro(base, 32, 16), type);
  make(micro("tiny", 256, 128), TensorType::Q4_K);
  make(micro("tiny-qwen2", 256, 128), TensorType::Q6_K);
  make(micro("tiny-qwen3", 32, 32), TensorType::F32);

  model::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_uint8("a.u8", 1);
  w.add_int8("a.i8", -1);
  w.add_uint16("a.u16", 2);
  w.add_int16("a.i16", -2);
  w.add_uint32("a.u32", 3);
  w.add_int32("a.i32", -3);
  w.add_uint64("a.u64", 4);
  w.add_int64("a.i64", -4);
  w.add_float32("a.f32", 0.5f);
  w.add_float64("a.f64", 0.25);
  w.add_bool("a.bool", true);
  w.add_string_array("a.strings", {"x", "yy"});
  w.add_float32_array("a.floats", {1.0f});
  w.add_int32_array("a.ints", {1, 2});
  w.add_tensor_f32("t", {4}, {1, 2, 3, 4});
  w.write((dir / "metadata.gguf").string());
}

void write_safetensors_seeds(const fs::path& dir) {
  using testing::make_tensor;
  testing::write_file((dir / "a.safetensors").string(),
                      testing::build_safetensors({make_tensor("model.embed_tokens.weight", "F32", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}),
                                                  make_tensor("model.norm.weight", "F16", {2}, {1, -1}),
                                                  make_tensor("lm_head.weight", "BF16", {2, 2, 1}, {1, 2, 3, 4})}));
  testing::write_file((dir / "b.safetensors").string(),
                      testing::build_safetensors({{"ids", "I64", {2}, std::vector<std::uint8_t>(16, 1)},
                                                  make_tensor("s", "F32", {}, {3})}));
  testing::write_file((dir / "empty.safetensors").string(), testing::build_safetensors({}));
}

void write_program_seeds(const fs::path& dir) {
  const lpu::ChipConfig chip;
  const lpu::Floorplan floorplan(chip);
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    lpu::Program p = seed < 4 ? testing::random_valid_program(seed, chip, floorplan)
                              : lpu::Program{};
    p.queues.resize(floorplan.queue_count());
    lpu::save_program(p, (dir / fmt::format("program-{}.lpuprog", seed)).string());
    std::ofstream((dir / fmt::format("program-{}.s", seed)).string())
        << lpu::write_program_asm(p, floorplan);
  }
}

// Request bodies for the server's parser: valid ones using every parameter, and near misses
// (wrong types, out of range, unsupported parameters, broken JSON) for the fuzzer to mutate.
void write_completion_request_seeds(const fs::path& dir) {
  const char* bodies[] = {
      R"({"model":"m","messages":[{"role":"user","content":"Hello"}]})",
      R"({"model":"lockstep-kjv","messages":[{"role":"developer","content":"Be brief."},)"
      R"({"role":"user","content":[{"type":"text","text":"In the "},{"type":"text","text":"beginning"}]},)"
      R"({"role":"assistant","content":"God"},{"role":"user","content":"more","name":"a"}],)"
      R"("max_tokens":50,"max_completion_tokens":20,"temperature":0.5,"top_p":0.9,"seed":-1,)"
      R"("stop":["\n","END"],"presence_penalty":-2,"frequency_penalty":2,"logprobs":true,)"
      R"("top_logprobs":5,"n":1,"stream":true,"stream_options":{"include_usage":true},)"
      R"("top_k":40,"min_p":0.05,"repetition_penalty":1.1,"logit_bias":null,"tools":null,)"
      R"("user":"u","metadata":{"k":"v"},"store":false,"service_tier":"auto"})",
      R"({"model":"m","prompt":"Once upon a time","max_tokens":16,"temperature":0,"top_k":-1,)"
      R"("seed":18446744073709551615,"stop":"\n\n","logprobs":3,"echo":false,"best_of":1})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"foo":1,"top_k":-2,)"
      R"("min_p":1,"repetition_penalty":0,"echo":true,"prompt":"y"})",
      R"({"model":"m","prompt":["a \u00e9 \ud83d\ude00"],"stream":false,"top_p":1e-9})",
      R"({"model":"m","messages":[{"role":"robot","content":"x"}],"n":2})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
      R"({"model":"m","messages":[],"temperature":"1","max_tokens":3.5})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}],)"
      R"("response_format":{"type":"json_object"},"logit_bias":{"1":-100}})",
      R"({"model":"m","prompt":[1,2,3],"logprobs":true,"stream_options":{"include_usage":true}})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1e999})",
      R"({"model":null,"messages":[{"role":"user"}],"x":[[[[[[[[]]]]]]]]})",
      R"([{"model":"m"}])",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],)",
      "",
  };
  int n = 0;
  for (const char* body : bodies)
    std::ofstream((dir / fmt::format("request-{:02d}.json", n++)).string(), std::ios::binary) << body;
}

// Compressed bodies for the Content-Encoding decoder: byte 0 picks the coding (0 gzip,
// 1 deflate; content_encoding_fuzz.cpp), the rest is what zlib writes for a request body.
void write_content_encoding_seeds(const fs::path& dir) {
  const std::string body = R"({"model":"m","prompt":"In the beginning","max_tokens":16})";
  const std::pair<char, int> kinds[] = {{0, 16 + MAX_WBITS}, {1, MAX_WBITS}, {1, -MAX_WBITS}};
  int n = 0;
  for (const auto& [selector, window_bits] : kinds) {
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, body.size()) + 16, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    z.avail_in = static_cast<uInt>(body.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    std::ofstream((dir / fmt::format("body-{}.bin", n++)).string(), std::ios::binary) << selector << out;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: seed_corpus OUT_DIR\n");
    return 2;
  }
  try {
    const fs::path out(argv[1]);
    for (const char* name :
         {"gguf_fuzz", "safetensors_fuzz", "program_fuzz", "completion_request_fuzz",
          "content_encoding_fuzz"}) {
      fs::remove_all(out / name);
      fs::create_directories(out / name);
    }
    write_gguf_seeds(out / "gguf_fuzz");
    write_safetensors_seeds(out / "safetensors_fuzz");
    write_program_seeds(out / "program_fuzz");
    write_completion_request_seeds(out / "completion_request_fuzz");
    write_content_encoding_seeds(out / "content_encoding_fuzz");
  } catch (const std::exception& e) {
    fmt::print(stderr, "seed_corpus: {}\n", e.what());
    return 1;
  }
  return 0;
}
