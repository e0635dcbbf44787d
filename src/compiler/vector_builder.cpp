#include "compiler/vector_builder.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "core/error.h"

namespace lockstep::compiler {
namespace {

bool same_place(const VecRef& a, const VecRef& b) { return a.slice == b.slice && a.addr == b.addr; }

}  // namespace

VectorBuilder::VectorBuilder(Emitter& emitter, MemAllocator& allocator)
    : e_(emitter), a_(allocator) {}

VTensor VectorBuilder::alloc(const std::string& name, std::uint32_t vectors, int stripes,
                             const std::vector<const VTensor*>& near) {
  std::vector<int> avoid;
  for (const VTensor* t : near)
    for (int s : t->place.slices) avoid.push_back(s);
  stripes = std::max(1, std::min<int>(stripes, static_cast<int>(vectors)));
  return {name, a_.allocate(name, vectors, stripes, pool_, avoid)};
}

Hemisphere VectorBuilder::sxm_side_for(const VecRef& src) const {
  return e_.scheduler().floorplan().mem_hemisphere(src.slice);
}

VecRef VectorBuilder::copy_away(const VecRef& src, const std::vector<int>& avoid,
                                const std::string& what, std::uint32_t n) {
  std::vector<int> all = avoid;
  all.push_back(src.slice);
  const Placed p = a_.allocate(fmt::format("copy.{}", counter_++), n, 1, pool_, all);
  const VecRef dst{p.slices[0], p.addr, 1};
  if (dst.slice == src.slice)
    throw DoesNotFit(fmt::format("the working tensors of this step ({}) do not fit the chip's SRAM: no other "
                                 "slice has room for a copy; try a shorter context or prefill chunk", what));
  e_.unit_op(Opcode::Move, {{src.slice, src.addr, 1}}, dst, n, 0, 0.0f, Hemisphere::West,
             what + " (copy)");
  return dst;
}

void VectorBuilder::gather(VecRef index, const TableRef& table, VecRef out, std::uint32_t n,
                           const std::string& what) {
  if (index.slice == table.slice || index.slice == out.slice)
    index = copy_away(index, {table.slice, out.slice}, what);
  e_.gather(index, table, out, n, what);
}

void VectorBuilder::scatter(VecRef index, VecRef data, const TableRef& table, std::uint32_t n,
                            const std::string& what) {
  if (data.slice == table.slice) data = copy_away(data, {table.slice, index.slice}, what, n);
  if (index.slice == table.slice || index.slice == data.slice)
    index = copy_away(index, {table.slice, data.slice}, what);
  e_.scatter(index, data, table, n, what);
}

void VectorBuilder::map(Opcode op, const std::vector<VectorStep>& steps, std::int32_t imm,
                        float fimm, const std::string& what) {
  // Make every step legal on its own: distinct operands in distinct slices, output elsewhere.
  std::vector<VectorStep> legal = steps;
  for (std::size_t idx = 0; idx < legal.size(); ++idx) {
    VectorStep& s = legal[idx];
    const VectorStep& original = steps[idx];
    for (std::size_t k = 0; k < s.in.size(); ++k) {
      bool duplicate = false;
      for (std::size_t j = 0; j < k && !duplicate; ++j)
        if (same_place(original.in[j], original.in[k])) {
          s.in[k] = s.in[j];
          duplicate = true;
        }
      if (duplicate) continue;
      std::vector<int> taken{s.out.slice};
      for (std::size_t j = 0; j < k; ++j) taken.push_back(s.in[j].slice);
      if (std::find(taken.begin(), taken.end(), s.in[k].slice) == taken.end()) continue;
      for (const VecRef& r : s.in) taken.push_back(r.slice);
      s.in[k] = copy_away(s.in[k], taken, what);
    }
  }
  run(op, legal, imm, fimm, what);
}

void VectorBuilder::run(Opcode op, const std::vector<VectorStep>& steps, std::int32_t imm,
                        float fimm, const std::string& what) {
  std::size_t i = 0;
  while (i < steps.size()) {
    const VectorStep& first = steps[i];
    std::size_t n = 1;
    std::vector<std::int64_t> step(first.in.size() + 1, 0);
    std::vector<VecRef> written{first.out};
    while (i + n < steps.size()) {
      const VectorStep& next = steps[i + n];
      bool ok = true;
      for (std::size_t k = 0; k <= first.in.size() && ok; ++k) {
        const VecRef& a = k < first.in.size() ? first.in[k] : first.out;
        const VecRef& b = k < first.in.size() ? next.in[k] : next.out;
        if (a.slice != b.slice) ok = false;
        const std::int64_t delta = static_cast<std::int64_t>(b.addr) - a.addr;
        if (n == 1) step[k] = delta;
        else if (delta != step[k] * static_cast<std::int64_t>(n)) ok = false;
      }
      for (const VecRef& r : next.in)
        for (const VecRef& w : written) ok = ok && !same_place(r, w);
      if (!ok) break;
      written.push_back(next.out);
      ++n;
    }
    // A failed first merge may have left partial steps behind; one iteration has none.
    if (n == 1) std::fill(step.begin(), step.end(), 0);
    std::vector<VecRef> in = first.in;
    for (std::size_t k = 0; k < in.size(); ++k) in[k].step = static_cast<std::int32_t>(step[k]);
    VecRef out = first.out;
    out.step = static_cast<std::int32_t>(step[first.in.size()]);
    const Hemisphere side = in.empty() ? Hemisphere::West : sxm_side_for(in[0]);
    e_.unit_op(op, in, out, static_cast<std::uint32_t>(n), imm, fimm, side, what);
    i += n;
  }
}

VTensor VectorBuilder::binary(Opcode op, const VTensor& a, const VTensor& b, const std::string& name,
                              int stripes) {
  VTensor out = alloc(name, a.vectors(), stripes, {&a, &b});
  if (b.vectors() != 1 && b.vectors() < a.vectors())
    fail("internal compiler error: {} has {} vectors, {} has {}", a.name, a.vectors(), b.name,
         b.vectors());
  std::vector<VectorStep> steps;
  for (std::uint32_t v = 0; v < a.vectors(); ++v)
    steps.push_back({{a.at(v), b.vectors() == 1 ? b.at(0) : b.at(v)}, out.at(v)});
  map(op, steps, 0, 0.0f, out.name);
  return out;
}

VTensor VectorBuilder::unary(Opcode op, const VTensor& a, float fimm, const std::string& name) {
  VTensor out = alloc(name, a.vectors(), 4, {&a});
  std::vector<VectorStep> steps;
  for (std::uint32_t v = 0; v < a.vectors(); ++v) steps.push_back({{a.at(v)}, out.at(v)});
  map(op, steps, 0, fimm, name);
  return out;
}

VTensor VectorBuilder::reduce_vectors(Opcode op, const VTensor& a, const std::string& name) {
  VTensor level = a;
  int depth = 0;
  while (level.vectors() > 1) {
    const std::uint32_t pairs = level.vectors() / 2;
    const bool odd = level.vectors() % 2 != 0;
    VTensor next = alloc(fmt::format("{}.{}", name, depth++), pairs + (odd ? 1 : 0), 4, {&level});
    std::vector<VectorStep> steps;
    for (std::uint32_t p = 0; p < pairs; ++p)
      steps.push_back({{level.at(2 * p), level.at(2 * p + 1)}, next.at(p)});
    map(op, steps, 0, 0.0f, next.name);
    if (odd) map(Opcode::Move, {{{level.at(level.vectors() - 1)}, next.at(pairs)}}, 0, 0.0f, next.name);
    level = next;
  }
  if (level.name == a.name) level = unary(Opcode::Move, a, 0.0f, name);
  return level;
}

VTensor VectorBuilder::rotate(const VTensor& a, int amount, const std::string& name, int stripes) {
  VTensor out = alloc(name, a.vectors(), stripes, {&a});
  std::vector<VectorStep> steps;
  for (std::uint32_t v = 0; v < a.vectors(); ++v) steps.push_back({{a.at(v)}, out.at(v)});
  map(Opcode::Rotate, steps, amount, 0.0f, name);
  return out;
}

VTensor VectorBuilder::reduce_lanes(Opcode op, const VTensor& a, const std::string& name, int stripes) {
  if (e_.scheduler().chip().fp32_lanes() != 80)
    fail("the lane reduction is written for 80 fp32 lanes per vector");
  // 80 = 16 x 5: rotations by 40, 20, 10, 5 combine each lane with its residue class mod 5.
  VTensor r = a;
  for (int shift : {40, 20, 10, 5})
    r = binary(op, r, rotate(r, shift, fmt::format("{}.rot{}", name, shift), stripes),
               fmt::format("{}.r{}", name, shift), stripes);
  if (op == Opcode::Add) {
    // Sum the five residue classes: lane l gets c_l + c_{l+1} + ... + c_{l+4} (all of them).
    VTensor sum = r;
    for (int k = 1; k <= 4; ++k)
      sum = binary(Opcode::Add, sum, rotate(r, k, fmt::format("{}.res{}", name, k), stripes),
                   fmt::format("{}.s{}", name, k), stripes);
    return sum;
  }
  // Max is idempotent: windows of 2, 4, then 5 classes.
  VTensor m = binary(op, r, rotate(r, 1, name + ".w1", stripes), name + ".m1", stripes);
  m = binary(op, m, rotate(m, 2, name + ".w2", stripes), name + ".m2", stripes);
  return binary(op, m, rotate(m, 1, name + ".w3", stripes), name + ".m3", stripes);
}

VTensor VectorBuilder::from_fp16(const VTensor& a, std::uint32_t vectors, const std::string& name) {
  VTensor out = alloc(name, vectors, 4, {&a});
  for (int half = 0; half < 2; ++half) {
    std::vector<VectorStep> steps;
    for (std::uint32_t v = half; v < vectors; v += 2) steps.push_back({{a.at(v / 2)}, out.at(v)});
    if (!steps.empty()) map(Opcode::ConvertF16ToF32, steps, half, 0.0f, name);
  }
  return out;
}

const VTensor& VectorBuilder::zeros() {
  if (constants_.empty()) {
    const int vb = e_.scheduler().chip().vector_bytes;
    for (float value : {0.0f, 1.0f}) {
      const std::string name = value == 0.0f ? "const.zeros" : "const.ones";
      VTensor t{name, a_.allocate(name, 1, 1, Pool::Weights)};
      std::vector<std::uint8_t> bytes(vb);
      for (int l = 0; l < vb / 4; ++l) std::memcpy(&bytes[4 * l], &value, 4);
      e_.scheduler().program().memory.push_back({t.place.slices[0], t.place.addr, bytes});
      constants_.push_back(t);
    }
  }
  return constants_[0];
}

const VTensor& VectorBuilder::ones() {
  zeros();
  return constants_[1];
}

}  // namespace lockstep::compiler
