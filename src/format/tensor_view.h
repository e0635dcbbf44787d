// A named tensor inside a model file: its storage type, its shape and a view of its bytes
// (zero copy: the bytes stay in the mapped file, which the owner of the view keeps alive).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "numerics/tensor_type.h"

namespace lockstep::model {

struct TensorView {
  std::string name;
  numerics::TensorType type = numerics::TensorType::F32;
  // GGUF order: shape[0] is the innermost (contiguous) dimension, the row length. A matrix
  // with shape {in, out} is stored row-major as [out][in] and computes y = W x.
  std::vector<std::uint64_t> shape;
  std::span<const std::uint8_t> data;  // tensor_bytes(type, element_count()) bytes

  std::uint64_t element_count() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  std::uint64_t row_length() const { return shape.empty() ? 1 : shape[0]; }
  std::uint64_t row_count() const { return shape.empty() ? 1 : element_count() / shape[0]; }
};

// Row `row` of a {width, rows} tensor as fp32, whatever its storage type. out: [width] fp32.
// Throws lockstep::Error when the row is out of range or out has the wrong size.
void dequantize_tensor_row(const TensorView& t, std::uint64_t row, std::span<float> out);

}  // namespace lockstep::model
