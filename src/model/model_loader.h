// Opening models. MODEL arguments on the command line resolve through load_model():
//   - a .gguf file (GGUF v2/v3, memory-mapped),
//   - a Hugging Face model directory (config.json, *.safetensors [+ index], tokenizer.json),
//   - an empty string or "embedded": the tiny default model linked into the binary.
// Unsupported architectures, missing tensors and malformed files throw lockstep::Error.
#pragma once

#include <memory>
#include <string>

#include "format/gguf_file.h"
#include "model/model.h"

namespace lockstep::model {

std::shared_ptr<const Model> load_model(const std::string& path_or_dir);
std::shared_ptr<const Model> load_embedded_model();

// Builds a model from a parsed GGUF file (used by load_model and by tests on in-memory files).
std::shared_ptr<const Model> model_from_gguf(const GgufFile& gguf);

// Builds a model from a Hugging Face directory.
std::shared_ptr<const Model> model_from_hf_directory(const std::string& dir);

// The bytes of the embedded default model (a GGUF file), empty if the build has none.
std::span<const std::uint8_t> embedded_model_bytes();

}  // namespace lockstep::model
