#include "model/model_loader.h"

#include <filesystem>

#include "core/error.h"

extern "C" {
extern const std::uint8_t lockstep_embedded_model_begin[];
extern const std::uint8_t lockstep_embedded_model_end[];
}

namespace lockstep::model {

std::span<const std::uint8_t> embedded_model_bytes() {
  return {lockstep_embedded_model_begin, lockstep_embedded_model_end};
}

std::shared_ptr<const Model> load_embedded_model() {
  auto bytes = embedded_model_bytes();
  if (bytes.empty())
    fail("this build of lockstep has no embedded model (models/lockstep-kjv.gguf was empty at "
         "build time); pass a model file");
  auto model = model_from_gguf(
      GgufFile::parse(MappedFile::from_static_memory(bytes, "embedded model")));
  return model;
}

std::shared_ptr<const Model> load_model(const std::string& path) {
  if (path.empty() || path == "embedded") return load_embedded_model();
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return model_from_hf_directory(path);
  if (!fs::exists(path, ec)) fail("model '{}' does not exist", path);
  if (fs::path(path).extension() == ".safetensors")
    fail("'{}' is one safetensors file; pass the directory that holds it with config.json and "
         "tokenizer.json",
         path);
  return model_from_gguf(GgufFile::open(path));
}

}  // namespace lockstep::model
