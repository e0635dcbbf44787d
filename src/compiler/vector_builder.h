// Vector-level building blocks for lowering a model: tensors of 320-byte vectors placed in MEM,
// element-wise operations over them (merged into Repeats wherever the operands walk their slices
// with a fixed step), reductions across vectors and across the 80 fp32 lanes of a vector
// (rotate trees on the SXM), lane broadcasts, and the fp32 <-> fp16 conversions around the MXM.
// Every call becomes scheduled instructions at once: the order of calls is the program order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/emitter.h"
#include "compiler/mem_allocator.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// A placed tensor: vector v at place.slice_of(v), place.addr_of(v).
struct VTensor {
  std::string name;
  Placed place;
  std::uint32_t vectors() const { return place.vectors; }
  VecRef at(std::uint32_t v) const { return {place.slice_of(v), place.addr_of(v), 1}; }
};

// One iteration of an element-wise operation: its input vectors and its output vector.
struct VectorStep {
  std::vector<VecRef> in;
  VecRef out;
};

class VectorBuilder {
 public:
  VectorBuilder(Emitter& emitter, MemAllocator& allocator);

  Emitter& emitter() { return e_; }
  MemAllocator& allocator() { return a_; }

  // A new activation tensor striped over `stripes` slices, avoiding the slices of `near`, in
  // the pool of the innermost PoolScope (else Pool::Activations).
  VTensor alloc(const std::string& name, std::uint32_t vectors, int stripes = 4,
                const std::vector<const VTensor*>& near = {});

  // While alive, the builder's new tensors (its own temporaries included) go to `pool`.
  class PoolScope {
   public:
    PoolScope(VectorBuilder& vb, Pool pool) : vb_(vb), saved_(vb.pool_) { vb.pool_ = pool; }
    ~PoolScope() { vb_.pool_ = saved_; }
    PoolScope(const PoolScope&) = delete;
    PoolScope& operator=(const PoolScope&) = delete;

   private:
    VectorBuilder& vb_;
    Pool saved_;
  };

  // Runs the steps in order, merging consecutive steps into one Repeat where every operand
  // moves by a fixed address step in a fixed slice and no step reads what an earlier step of the
  // same run writes. Operands that would share a slice are first copied elsewhere.
  void map(Opcode op, const std::vector<VectorStep>& steps, std::int32_t imm = 0,
           float fimm = 0.0f, const std::string& what = "");

  // out[v] = op(a[v], b[v]) (b with one vector: b[0] for every v). out has a's vector count.
  // out is striped over `stripes` slices: 1 keeps a run of vectors in one Repeat.
  VTensor binary(Opcode op, const VTensor& a, const VTensor& b, const std::string& name, int stripes = 4);
  // out[v] = op(a[v]) with immediate fimm (AddImm, MulImm, Exp, Rsqrt, Abs, Move).
  VTensor unary(Opcode op, const VTensor& a, float fimm, const std::string& name);

  // Gather / Scatter (emitter.h) of n vectors, with the index, the data and the table in three
  // different slices (a slice serves one access per cycle): an operand that shares a slice is
  // first copied elsewhere.
  void gather(VecRef index, const TableRef& table, VecRef out, std::uint32_t n, const std::string& what);
  void scatter(VecRef index, VecRef data, const TableRef& table, std::uint32_t n,
               const std::string& what);

  // One vector: op (Add or Max) over all vectors of a, pairwise in a fixed tree.
  VTensor reduce_vectors(Opcode op, const VTensor& a, const std::string& name);
  // out[v]'s every lane holds op (Add or Max) over the 80 lanes of a[v]; every level striped
  // over `stripes` slices (1: each level of all of a's vectors is one Repeat).
  VTensor reduce_lanes(Opcode op, const VTensor& a, const std::string& name, int stripes = 4);
  // Rotate lanes: out[v].f32[l] = a[v].f32[(l + amount) mod 80].
  VTensor rotate(const VTensor& a, int amount, const std::string& name, int stripes = 1);

  // fp16 vectors -> fp32: out[2c] = low half of a[c], out[2c+1] = high half; `vectors` outputs.
  VTensor from_fp16(const VTensor& a, std::uint32_t vectors, const std::string& name);

  // Constant vectors placed once in the memory image: all lanes zero / one.
  const VTensor& zeros();
  const VTensor& ones();

 private:
  Emitter& e_;
  MemAllocator& a_;
  std::vector<VTensor> constants_;  // [0] zeros, [1] ones once placed
  Pool pool_ = Pool::Activations;   // where alloc places (PoolScope)
  int counter_ = 0;

  void run(Opcode op, const std::vector<VectorStep>& steps, std::int32_t imm, float fimm,
           const std::string& what);
  // Copies n vectors from src (consecutive addresses) to a slice outside `avoid` and src's own.
  VecRef copy_away(const VecRef& src, const std::vector<int>& avoid, const std::string& what,
                   std::uint32_t n = 1);
  Hemisphere sxm_side_for(const VecRef& src) const;
};

}  // namespace lockstep::compiler
