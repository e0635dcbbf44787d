#include "compiler/row_tensor.h"

namespace lockstep::compiler {

Rows alloc_rows(VectorBuilder& vb, const std::string& name, std::uint32_t rows, std::uint32_t width,
                const std::vector<const VTensor*>& near) {
  Rows r;
  r.rows = rows;
  r.width = width;
  r.stride = (width + 3) / 4 * 4;
  r.all = vb.alloc(name, rows * r.stride, 4, near);
  return r;
}

void map_rows(VectorBuilder& vb, Opcode op, const std::vector<RowOperand>& inputs, const Rows& out,
              std::int32_t imm, float fimm) {
  std::vector<VectorStep> steps;
  steps.reserve(std::size_t{out.rows} * out.width);
  for (std::uint32_t v = 0; v < out.width; ++v)
    for (std::uint32_t t = 0; t < out.rows; ++t) {
      VectorStep s{{}, out.at(t, v)};
      for (const RowOperand& in : inputs) s.in.push_back(in(t, v));
      steps.push_back(std::move(s));
    }
  vb.map(op, steps, imm, fimm, out.all.name);
}

}  // namespace lockstep::compiler
