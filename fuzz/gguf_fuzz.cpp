// libFuzzer target for the GGUF reader and the GGUF model loader: the input is parsed as a GGUF
// file in memory (GgufFile::parse via MappedFile::from_static_memory); when that succeeds, the
// typed accessors are exercised, model_from_gguf builds a model (config, tensor binding,
// tokenizer), and the first row of every bound tensor is dequantized.
// lockstep::Error is an accepted outcome; any other exception, a crash or a sanitizer report is a
// bug. Seeds: build/asan/corpus/gguf_fuzz, written by seed_corpus at build time.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "format/gguf_file.h"
#include "model/model_loader.h"
#include "numerics/dequantize.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace lockstep;

void touch_metadata(const model::GgufFile& g) {
  for (const auto& [key, value] : g.metadata()) {
    try {
      if (value.type == model::GgufType::ARRAY) {
        if (value.array_type == model::GgufType::STRING) g.get_string_array(key);
        else {
          g.get_float_array(key);
          g.get_int_array(key);
        }
      } else if (value.type == model::GgufType::STRING) {
        g.get_string(key);
      } else if (value.type == model::GgufType::BOOL) {
        g.get_bool(key, false);
      } else {
        g.get_float(key);
        g.get_uint(key);
      }
    } catch (const Error&) {
    }
  }
}

void touch_model(const model::Model& m) {
  std::vector<float> row;
  for (const auto& [name, t] : m.tensors) {
    const std::uint64_t n = t.row_length();
    if (n > (1u << 22)) continue;  // bounded by the input size anyway; keeps one run fast
    row.resize(n);
    numerics::dequantize_row(t.type, t.data.data(), row.data(), static_cast<std::int64_t>(n));
  }
  const auto ids = m.tokenizer->encode("Hello world, it's 12:34!", true, true);
  m.tokenizer->decode(ids);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto file = MappedFile::from_static_memory({data, size}, "fuzz.gguf");
  std::optional<model::GgufFile> g;
  try {
    g.emplace(model::GgufFile::parse(file));
  } catch (const Error&) {
    return 0;
  }
  touch_metadata(*g);
  try {
    const auto m = model::model_from_gguf(*g);
    touch_model(*m);
  } catch (const Error&) {
  }
  return 0;
}
