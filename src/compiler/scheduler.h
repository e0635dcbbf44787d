// The scheduler: places groups of instructions at the earliest cycle where every resource they
// need is free, books those resources, and appends the instructions to the program.
//
// A group is a few instructions that run in lock-step, all with the same Repeat count and
// stride (e.g. two MEM Reads -> one VXM Add -> one MEM Write, repeated over n vectors). Each
// stage sits at a fixed offset from the group's anchor cycle T, given by the timing law: a
// consumer at position q reading a producer at p issues delay(producer) + |q - p| cycles after
// it. Links are the stream transfers between stages; the scheduler picks their stream indexes
// (consecutive within a bundle, e.g. the 16 inputs of a LoadWeights) so that no diagonal is
// shared. Nothing is decided at run time: the instruction cycles are final.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpu/arch/floorplan.h"
#include "lpu/program/program.h"
#include "compiler/reservations.h"
#include "lpu/arch/system_config.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// The MEM addresses a stage touches, for dependences and bank ports.
struct MemAccess {
  enum class Kind { None, Read, Write, RegionRead, RegionWrite } kind = Kind::None;
  std::uint32_t addr = 0;        // iteration i: addr + i * step (Read / Write)
  std::int32_t step = 0;
  std::uint32_t region_lo = 0;   // RegionRead / RegionWrite (Gather / Scatter): the table
  std::uint32_t region_hi = 0;   //   [region_lo, region_hi), any row of which may be touched
};

struct Stage {
  int queue = -1;
  std::vector<int> alternatives;  // if set: any of these queues (same position), first free wins
  std::int64_t offset = 0;       // issue of iteration 0 = T + offset
  Instruction instruction;       // opcode and operands; cycle, repeat and streams are filled in
  MemAccess mem;
};

// A stream transfer from a producer's output slot to one or more consumer input slots (all at
// the same position).
struct Link {
  int producer = 0;
  int out_slot = 0;                            // output k -> stream out + k
  std::vector<std::pair<int, int>> consumers;  // (stage, input slot)
};

struct Group {
  std::vector<Stage> stages;
  std::vector<Link> links;
  std::vector<std::vector<int>> bundles;  // links that take consecutive stream indexes
  std::uint32_t repeat = 1;
  std::uint16_t stride = 1;               // cycles between iterations, all stages alike
  std::uint64_t not_before = 0;           // earliest anchor cycle
  // The part of not_before that is data, not a busy resource (an MXM result or install the
  // group needs, a vector arriving on a link), as it would be with every resource free: what
  // the dataflow bound (Program::dataflow_cycles) counts.
  std::uint64_t ideal_not_before = 0;
  std::string what;                       // for errors: "blk.0.attn_q block 3"
};

class Scheduler {
 public:
  Scheduler(const ChipConfig& chip, const Floorplan& floorplan, Program& program);

  const ChipConfig& chip() const { return chip_; }
  const Floorplan& floorplan() const { return floorplan_; }
  Reservations& reservations() { return book_; }
  Program& program() { return program_; }

  int position_of(int queue) const { return floorplan_.queues()[queue].position; }
  int delay_of(Opcode op) const { return chip_.delay(opcode_info(op).delay_class); }

  // Places the group; returns the anchor cycle T chosen. Groups are placed in the program's
  // memory order: the group's instructions get the next Instruction::order, and MEM data flows
  // from earlier groups to later ones. Beside the real placement the scheduler keeps the
  // dataflow bound: the anchor each group would take if only its data held it back
  // (ideal_anchor() after place()). Links and stage offsets must be
  // consistent with the timing law (checked). Throws lockstep::Error if no slot is found.
  std::uint64_t place(Group& group);

  // No group is placed before `cycle` from now on (a multi-chip stage's body starts at one cycle
  // on every chip of its group, so that their schedules are identical).
  void set_floor(std::uint64_t cycle) { floor_ = cycle; }

  std::uint64_t ideal_anchor() const { return ideal_anchor_; }

  // Program length so far, as program.h defines it.
  std::uint64_t end_cycle() const;
  // Sorts every queue by issue cycle (groups may fill earlier gaps), records the dataflow bound
  // in the program and returns end_cycle().
  std::uint64_t finish();

 private:
  const ChipConfig& chip_;
  const Floorplan& floorplan_;
  Program& program_;
  Reservations book_;
  std::uint64_t floor_ = 0;
  std::uint32_t groups_placed_ = 0;  // the last group's memory order (program.h)
  std::uint64_t ideal_anchor_ = 0;   // the last group's anchor with every resource free

  std::uint64_t ideal_lower_bound(const Group& g) const;
  void note_ideal(const Group& g, std::uint64_t t);

  std::uint64_t lower_bound(const Group& g) const;
  bool banks_free(const Group& g, std::uint64_t t) const;
  // True when every stage's queue is free at anchor t; else *next is the first anchor that can
  // possibly be (no feasible anchor below it is skipped).
  bool queues_free(Group& g, std::uint64_t t, std::uint64_t* next) const;
  bool pick_streams(const Group& g, std::uint64_t t, std::vector<int>& base) const;
  void commit(Group& g, std::uint64_t t, const std::vector<int>& base);
  void check_links(const Group& g) const;
  Direction link_direction(const Group& g, const Link& l) const;
  int link_reach(const Group& g, const Link& l) const;
};

}  // namespace lockstep::compiler
