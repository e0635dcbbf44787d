// GGUF v2/v3 reader. The whole file is memory-mapped; metadata is parsed into values, tensors
// stay in the mapping (TensorView points into it). Every count, length, dimension and offset is
// checked against the file size before use, so hostile files give one lockstep::Error naming the
// file and the field, never an unbounded allocation or a read past the end.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/mapped_file.h"
#include "format/tensor_view.h"

namespace lockstep::model {

// GGUF metadata value types, numbered as in the format.
enum class GgufType : std::uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// One metadata value. Scalars are widened (integers to int64/uint64, floats to double);
// arrays hold their element type and the elements.
struct GgufValue {
  GgufType type = GgufType::UINT8;
  std::variant<std::uint64_t, std::int64_t, double, bool, std::string> scalar;
  GgufType array_type = GgufType::UINT8;       // valid when type == ARRAY
  std::vector<GgufValue> array;                // valid when type == ARRAY
};

class GgufFile {
 public:
  // Opens and validates `path`. Throws lockstep::Error for any malformed content.
  static GgufFile open(const std::string& path);
  // Parses bytes already in memory (the embedded model, fuzzing). `file` keeps them alive.
  static GgufFile parse(std::shared_ptr<const MappedFile> file);

  std::uint32_t version() const { return version_; }
  const std::string& path() const { return file_->name(); }
  std::shared_ptr<const MappedFile> mapping() const { return file_; }
  std::uint64_t alignment() const { return alignment_; }

  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }

  bool has(const std::string& key) const { return metadata_.count(key) != 0; }
  const GgufValue* find(const std::string& key) const;
  const TensorView* find_tensor(const std::string& name) const;

  // Typed accessors: throw lockstep::Error naming the key and the file when the key is missing
  // (the variants without a fallback) or has the wrong type.
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::uint64_t get_uint(const std::string& key) const;
  std::uint64_t get_uint(const std::string& key, std::uint64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;
  std::vector<std::int64_t> get_int_array(const std::string& key) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::map<std::string, GgufValue> metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::size_t> tensor_index_;
};

}  // namespace lockstep::model
