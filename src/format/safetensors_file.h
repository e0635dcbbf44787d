// safetensors reader: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// data. The file is memory-mapped; tensors are views into it. Shapes are converted to GGUF order
// (innermost first), so a PyTorch [out, in] matrix becomes {in, out} as everywhere in lockstep.
// Every header field is validated against the file; bad input throws lockstep::Error.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "format/tensor_view.h"

namespace lockstep::model {

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  static SafetensorsFile parse(std::shared_ptr<const MappedFile> file);

  const std::string& path() const { return file_->name(); }
  std::shared_ptr<const MappedFile> mapping() const { return file_; }
  // Tensors by their names in the file (Hugging Face names), in GGUF shape order.
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace lockstep::model
