// A batch of T rows (tokens) of one activation, laid out so that every per-row vector and every
// per-vector column can be walked with a fixed address step: vector v of row t lives in
// slices[v % 4] at addr + t * stride / 4 + v / 4, with stride (vectors per row) a multiple of 4.
// A Compute of the MXM walks column v over all rows (step stride / 4); element-wise operations
// merge the rows of one column into one Repeat; per-row work (norms, attention) uses row views.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/vector_builder.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

struct Rows {
  VTensor all;               // rows * stride vectors, striped over 4 slices
  std::uint32_t rows = 0;    // T
  std::uint32_t width = 0;   // meaningful vectors per row
  std::uint32_t stride = 0;  // vectors per row as laid out (multiple of 4, >= width)

  VecRef at(std::uint32_t t, std::uint32_t v) const {
    return {all.place.slices[v % 4], all.place.addr + t * (stride / 4) + v / 4, 1};
  }
  // Column v over all rows: the address step from one row to the next.
  VecRef column(std::uint32_t v) const {
    VecRef r = at(0, v);
    r.step = static_cast<std::int32_t>(stride / 4);
    return r;
  }
  // Row t as a tensor of `width` vectors.
  VTensor row(std::uint32_t t) const {
    VTensor r = all;
    r.name = all.name + "." + std::to_string(t);
    r.place.addr = all.place.addr + t * (stride / 4);
    r.place.vectors = width;
    return r;
  }
};

// An operand of a row-wise operation: the vector it reads for row t, column v.
using RowOperand = std::function<VecRef(std::uint32_t t, std::uint32_t v)>;

inline RowOperand same(const Rows& r) { return [&r](std::uint32_t t, std::uint32_t v) { return r.at(t, v); }; }
// The same vector v for every row (weights, biases).
inline RowOperand for_every_row(const VTensor& x) {
  return [x](std::uint32_t, std::uint32_t v) { return x.at(v); };
}
// One vector per row, whatever the column (a row's norm scale).
inline RowOperand one_per_row(std::vector<VecRef> per_row) {
  return [per_row = std::move(per_row)](std::uint32_t t, std::uint32_t) { return per_row[t]; };
}

Rows alloc_rows(VectorBuilder& vb, const std::string& name, std::uint32_t rows,
                std::uint32_t width, const std::vector<const VTensor*>& near = {});

// out(t, v) = op(inputs(t, v)...) for every row and v < out.width, one Repeat per column.
void map_rows(VectorBuilder& vb, Opcode op, const std::vector<RowOperand>& inputs, const Rows& out,
              std::int32_t imm = 0, float fimm = 0.0f);

}  // namespace lockstep::compiler
