// Test helper: builds safetensors files (8-byte header length, JSON header, data) from tensors
// given in PyTorch shape order, for the safetensors reader and Hugging Face loader tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "numerics/half.h"

namespace lockstep::testing {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;                   // "F32", "F16", "BF16", "I64", ...
  std::vector<std::uint64_t> shape;    // PyTorch order: [out, in]
  std::vector<std::uint8_t> bytes;
};

// Values stored as F32, F16 or BF16.
inline SafetensorsTensor make_tensor(const std::string& name, const std::string& dtype,
                                     std::vector<std::uint64_t> shape,
                                     const std::vector<float>& values) {
  SafetensorsTensor t{name, dtype, std::move(shape), {}};
  if (dtype == "F32") {
    t.bytes.resize(values.size() * 4);
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  } else {
    t.bytes.resize(values.size() * 2);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::uint16_t h = dtype == "F16" ? numerics::fp32_to_fp16(values[i])
                                             : numerics::fp32_to_bf16(values[i]);
      std::memcpy(t.bytes.data() + 2 * i, &h, 2);
    }
  }
  return t;
}

// The file bytes; `header_override` (when not null) replaces the generated JSON header.
inline std::vector<std::uint8_t> build_safetensors(const std::vector<SafetensorsTensor>& tensors,
                                                   const std::string* header_override = nullptr) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<std::uint8_t> data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header_override ? *header_override : header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::vector<std::uint8_t> out(8);
  const std::uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace lockstep::testing
