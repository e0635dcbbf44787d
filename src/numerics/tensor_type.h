// Tensor storage types, numbered as GGUF/ggml numbers them (the file format's ids), with their
// block layout. A quantized row of n values is n / block_values blocks of block_bytes each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace lockstep::numerics {

enum class TensorType : std::uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q6_K = 14,
  BF16 = 30,
  MXFP4 = 39,
};

struct TensorTypeInfo {
  TensorType type;
  const char* name;          // as llama.cpp prints it: "f32", "q4_K", ...
  std::size_t block_values;  // values per block
  std::size_t block_bytes;   // bytes per block
};

// The types lockstep reads and writes. nullopt for any other id (known to ggml or not).
std::optional<TensorTypeInfo> tensor_type_info(std::uint32_t ggml_id);
const TensorTypeInfo& tensor_type_info(TensorType type);

// A name for any ggml type id, for error messages ("q5_K", "iq2_xxs", or "type 77").
std::string ggml_type_name(std::uint32_t ggml_id);

// Parses "f16", "q8_0", "Q4_K", ... (case-insensitive). nullopt when not a supported type.
std::optional<TensorType> parse_tensor_type(const std::string& name);

// Bytes of `values` values stored as `type`; values must be a multiple of block_values.
std::size_t tensor_bytes(TensorType type, std::uint64_t values);

}  // namespace lockstep::numerics
