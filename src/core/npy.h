// NumPy .npy files (format version 1.0), little-endian float32, C order: the exchange format for
// logits, so numpy, PyTorch and the fixtures' tooling can read what lockstep writes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lockstep {

// Writes `values` with `shape` (product must equal values.size()). Throws lockstep::Error.
void write_npy_f32(const std::string& path, std::span<const float> values,
                   const std::vector<std::uint64_t>& shape);

struct NpyArray {
  std::vector<std::uint64_t> shape;
  std::vector<float> values;  // C order
};

// Reads a '<f4' C-order .npy file. Throws lockstep::Error for anything else.
NpyArray read_npy_f32(const std::string& path);

}  // namespace lockstep
