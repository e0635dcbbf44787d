// The instruction patterns the lowering uses, each turned into one scheduler Group: MEM reads
// feed a unit whose result is written back to MEM, MEM tables gathered and scattered by an index
// read from MEM, and the four MXM steps (load weights, install, compute, emit). The emitter also
// keeps the MXM's internal hazards (buffer, array, accumulators), which no stream carries.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/scheduler.h"

namespace lockstep::compiler {

// The machine's names (Program, ChipConfig, Opcode, ...) are the compiler's vocabulary.
using namespace lockstep::lpu;

// `count` vectors of one MEM slice: iteration i touches addr + i * step.
struct VecRef {
  int slice = 0;
  std::uint32_t addr = 0;
  std::int32_t step = 1;
  friend bool operator==(const VecRef&, const VecRef&) = default;
};

// A MEM table for Gather / Scatter: rows of `row_vectors` vectors from (slice, addr), holding
// rows [row_lo, row_lo + rows).
struct TableRef {
  int slice = 0;
  std::uint32_t addr = 0;
  std::int32_t row_vectors = 1;
  std::int32_t row_lo = 0;
  std::int32_t rows = 0;
};

class Emitter {
 public:
  explicit Emitter(Scheduler& scheduler);
  Scheduler& scheduler() { return s_; }

  // out[i] = op(in_0[i], in_1[i], ...) for i < repeat on a VXM ALU (the least busy) or, for
  // Rotate / Distribute, the SXM of `sxm_side`. Inputs must sit in slices other than the output's
  // and, when distinct, other than each other's. Returns the anchor cycle.
  std::uint64_t unit_op(Opcode op, const std::vector<VecRef>& in, VecRef out, std::uint32_t repeat,
                        std::int32_t imm = 0, float fimm = 0.0f,
                        Hemisphere sxm_side = Hemisphere::West, const std::string& what = "");

  // out[i] = table[row(index) * row_vectors + i], i < repeat (= row_vectors usually); every
  // iteration reads the same index vector.
  std::uint64_t gather(VecRef index, const TableRef& table, VecRef out, std::uint32_t repeat,
                       const std::string& what);
  // table[row(index) * row_vectors + i] = data[i].
  std::uint64_t scatter(VecRef index, VecRef data, const TableRef& table, std::uint32_t repeat,
                        const std::string& what);

  // Buffer rows [first_row + width * i, + width) of `plane` <- rows[w] at iteration i, for
  // i < repeat: rows[w] is the w-th of `width` MEM sources, each stepping through its slice.
  std::uint64_t load_weights(int plane, const std::vector<VecRef>& rows, std::uint32_t first_row,
                             std::uint32_t repeat, const std::string& what);
  // Loads `rows` buffer rows of a weight block laid out row r in slices[r % width] at
  // addr + r / width (width = slices.size()): full-width iterations, then one narrower load for
  // the remainder, so that no load runs past the rows the block has.
  void load_block(int plane, const std::vector<int>& slices, std::uint32_t addr, std::uint32_t rows,
                  const std::string& what);
  std::uint64_t install_weights(int plane, std::uint32_t rows, ElementType type,
                                const std::string& what);
  // acc[acc_row + i * acc_step] (=|+=) array x act[i], i < repeat.
  std::uint64_t compute(int plane, VecRef act, std::uint32_t acc_row, std::int32_t acc_step,
                        bool accumulate, std::uint32_t repeat, const std::string& what);
  // out[k][i] <- quarter k of acc[acc_row + i], i < repeat; out[k] in 4 distinct slices.
  std::uint64_t emit(int plane, std::uint32_t acc_row, const std::array<VecRef, 4>& out,
                     std::uint32_t repeat, const std::string& what);

  // C2C. send(): src[i] -> `channel`, i < count, one vector per `occupancy` cycles (the link's
  // time per vector), not before the channel's previous vector has left; returns the issue cycle
  // of every vector. receive(): dst[i] <- the channel's next vector, i < count, each at or after
  // arrivals[i] (system_program.h: the sender's issue cycle + the link's transfer cycles).
  std::vector<std::uint64_t> send(VecRef src, const std::vector<int>& channels, std::uint32_t count,
                                  std::uint16_t occupancy, const std::string& what);
  std::uint64_t receive(int channel, VecRef dst, const std::vector<std::uint64_t>& arrivals,
                        std::uint16_t occupancy, const std::string& what);

  int plane_queue(int plane, Unit unit) const { return fp_.mxm_queue(plane, unit); }

 private:
  struct PlaneState {
    std::uint64_t rows_loaded = 0;        // cycle all buffer rows loaded so far are in
    std::uint64_t buffer_free = 0;        // a LoadWeights may write the buffer from here
    std::uint64_t array_ready = 0;        // the last install is usable from here
    std::uint64_t array_last_use = 0;     // last cycle a Compute holds the installed array
    ElementType array_type = ElementType::I8;
    std::vector<std::uint64_t> acc_ready; // [row] result of the last Compute usable from here
    std::vector<std::uint64_t> acc_read;  // [row] last Emit issue
    // The same facts with every resource free (Group::ideal_not_before): each weight block
    // on a plane of its own, so only its loads and its input hold it back.
    std::uint64_t ideal_rows_loaded = 0;        // the loads since the last install are in
    std::uint64_t ideal_array_ready = 0;
    std::vector<std::uint64_t> ideal_acc_ready; // [row]
  };

  Scheduler& s_;
  const Floorplan& fp_;
  std::vector<PlaneState> planes_;
  std::vector<std::uint64_t> channel_free_;  // [channel] the next Send may issue from here
  // [channel] per vector sent on it, in order: its issue cycle less its ideal one. A receive on
  // a channel this program also sends on (a butterfly: the partner runs the same program) takes
  // vector k at its arrival less the lag of the k-th vector sent; other arrivals are given.
  std::vector<std::vector<std::uint64_t>> sent_lag_;
  std::vector<std::size_t> received_;        // [channel] vectors received so far

  // A Gather or Scatter on `table` with its index read; the caller adds the data side.
  Group table_group(Opcode op, VecRef index, const TableRef& table, std::uint32_t repeat,
                    const std::string& what);
  int read_stage(Group& g, const VecRef& src, int consumer, int slot, std::int64_t consumer_offset,
                 int consumer_position);
  void write_stage(Group& g, const VecRef& dst, int producer, int out_slot,
                   std::int64_t producer_offset, int producer_position, Opcode producer_op);
};

}  // namespace lockstep::compiler
