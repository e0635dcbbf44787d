#include "lpu/program/program_check.h"

#include <algorithm>
#include <compare>
#include <set>
#include <string>

#include "core/error.h"
#include "lpu/program/host_interface.h"
#include "lpu/program/machine_rule_violation.h"

namespace lockstep::lpu {
namespace {

using Wide = __int128;  // address arithmetic of hostile fields cannot overflow in 128 bits

// The lowest and highest value of base + i * step over iterations i in [0, n), n >= 1.
struct Range {
  Wide lo, hi;
};
Range iterations(Wide base, Wide step, Wide n) {
  const Wide last = base + (n - 1) * step;
  return {std::min(base, last), std::max(base, last)};
}

// One instruction under check; errors name its queue, index, mnemonic and issue cycle.
class Site {
 public:
  Site(const QueueInfo& queue, std::size_t index, const Instruction& in)
      : queue_(queue), index_(index), in_(in) {}

  template <typename... Args>
  [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
    violation("queue {} instruction {} ({} @{}): {}", queue_.name, index_, label(), in_.cycle,
              fmt::format(format, std::forward<Args>(args)...));
  }
  const Instruction& in() const { return in_; }
  const QueueInfo& queue() const { return queue_; }
  const OpcodeInfo& info() const { return opcode_info(in_.opcode); }
  std::string_view mnemonic() const { return info().mnemonic; }

 private:
  std::string label() const {
    if (static_cast<int>(in_.opcode) >= kOpcodeCount)
      return fmt::format("opcode {}", static_cast<int>(in_.opcode));
    return std::string(opcode_info(in_.opcode).mnemonic);
  }
  const QueueInfo& queue_;
  std::size_t index_;
  const Instruction& in_;
};

void check_opcode(const Site& s) {
  if (static_cast<int>(s.in().opcode) >= kOpcodeCount)
    s.error("the opcode does not exist (opcodes are 0 to {})", kOpcodeCount - 1);
  if (s.info().unit != s.queue().unit)
    s.error("{} is a {} instruction, but {} is a {} queue", s.mnemonic(), unit_name(s.info().unit),
            s.queue().name, unit_name(s.queue().unit));
}

void check_repeat(const Site& s, const Instruction* previous) {
  const Instruction& in = s.in();
  if (in.repeat < 1) s.error("repeat is 0; an instruction runs at least once");
  if (in.stride < 1) s.error("stride is 0; iterations are at least one cycle apart");
  const Wide last = Wide{in.cycle} + Wide{in.repeat - 1} * in.stride;
  if (last >= Wide{kMaxProgramCycle})
    s.error("its last iteration issues at cycle {}, beyond the limit {}", last, kMaxProgramCycle);
  if (previous && in.cycle <= previous->last_issue())
    s.error(
        "it issues at cycle {}, but the queue's previous instruction issues its last "
        "iteration at cycle {}; a queue issues in order, one iteration a cycle",
        in.cycle, previous->last_issue());
}

// The ISA table (isa.h): Read / Write width w touches addr + w' * vectors_per_bank for w' < w,
// so width 2 needs a second bank; LoadWeights reads `width` streams, at most
// min(mxm_load_streams, kMaxLoadStreams).
void check_width(const Site& s, const ChipConfig& chip) {
  const int width = s.in().width;
  switch (s.in().opcode) {
    case Opcode::LoadWeights: {
      const int most = std::min(chip.mxm_load_streams, kMaxLoadStreams);
      if (width < 1 || width > most)
        s.error("width {} is not 1 to {} (mxm_load_streams, at most {})", width, most, kMaxLoadStreams);
      break;
    }
    case Opcode::Read:
    case Opcode::Write:
      if (width != 1 && width != 2) s.error("width {} is not 1 or 2 banks", width);
      if (width > chip.banks_per_slice)
        s.error("width {} needs {} banks, but a slice has {}", width, width, chip.banks_per_slice);
      break;
    default:
      if (width != 1) s.error("width is {}, but only lw, read and write have a width", width);
  }
}

// A stream operand: present exactly when used, a valid stream byte, and its group of `count`
// consecutive streams within streams_per_direction.
void check_stream(const Site& s, const ChipConfig& chip, std::uint8_t byte, bool used, int count,
                  std::string_view operand) {
  if (!used) {
    if (byte != kNoStream) s.error("{} is set, but {} has no such operand", operand, s.mnemonic());
    return;
  }
  if (byte == kNoStream) s.error("{} uses {}, but it is not set", s.mnemonic(), operand);
  if (byte >= 64) s.error("{} byte {:#04x} is not a stream", operand, byte);
  const int index = decode_stream(byte).index;
  if (index + count - 1 >= chip.streams_per_direction)
    s.error("{} uses streams {} to {}, but there are {} per direction", operand, index,
            index + count - 1, chip.streams_per_direction);
}

void check_reach(const Site& s, const Floorplan& floorplan) {
  const int reach = s.in().reach;
  const int position = s.queue().position;
  const bool east = decode_stream(s.in().out).direction == Direction::East;
  if (reach >= floorplan.positions())
    s.error("reach {} is beyond the last position {}", reach, floorplan.positions() - 1);
  if (east ? reach < position : reach > position)
    s.error("reach {} lies {} of position {}, against the output's {}ward flow", reach,
            east ? "west" : "east", position, east ? "east" : "west");
}

void check_streams(const Site& s, const ChipConfig& chip, const Floorplan& floorplan) {
  const OpcodeInfo& info = s.info();
  const Instruction& in = s.in();
  for (int k = 0; k < 4; ++k) {
    const int count = k == 0 && info.width_scales_inputs ? in.width : 1;
    check_stream(s, chip, in.in[k], k < info.stream_inputs, count, fmt::format("in{}", k));
  }
  const int outputs = info.width_scales_outputs ? in.width : info.stream_outputs;
  check_stream(s, chip, in.out, info.stream_outputs > 0, outputs, "out");
  if (info.stream_outputs > 0) check_reach(s, floorplan);
}

void check_slice_range(const Site& s, const ChipConfig& chip, Range r, std::string_view what) {
  const Wide capacity = Wide{chip.banks_per_slice} * chip.vectors_per_bank;
  if (r.lo < 0 || r.hi >= capacity)
    s.error("{} {} to {} leave the slice's {} vectors", what, r.lo, r.hi, capacity);
}

void check_mem(const Site& s, const ChipConfig& chip) {
  const Instruction& in = s.in();
  Range r = iterations(in.addr, in.addr_step, in.repeat);
  if (in.opcode == Opcode::Gather || in.opcode == Opcode::Scatter) {
    if (in.imm < 0) s.error("the row stride imm is {}, below 0", in.imm);
    if (in.imm3 < 0) s.error("imm3 (rows held by the slice) is {}, below 0", in.imm3);
    if (in.imm3 == 0) return;
    const Wide rows = Wide{in.imm3 - 1} * in.imm;  // highest row offset above an iteration's base
    check_slice_range(s, chip, {r.lo, r.hi + rows}, "addresses");
    // The bank port is reserved statically, so every row an iteration may touch shares the
    // bank of its base address (the first and the last base bound all of them).
    for (const Wide base : {r.lo, r.hi})
      if (base / chip.vectors_per_bank != (base + rows) / chip.vectors_per_bank)
        s.error("rows {} to {} of one iteration straddle two banks", base, base + rows);
    return;
  }
  if (in.width == 2 && (r.lo < 0 || r.hi >= chip.vectors_per_bank))
    s.error("width 2 needs every address in bank 0 (below {}), but they run {} to {}",
            chip.vectors_per_bank, r.lo, r.hi);
  check_slice_range(s, chip, {r.lo, r.hi + Wide{in.width - 1} * chip.vectors_per_bank},
                    "addresses");
}

void check_install(const Site& s, const ChipConfig& chip) {
  const Instruction& in = s.in();
  if (in.addr > static_cast<std::uint32_t>(chip.mxm_plane_rows))
    s.error("installs {} rows; a plane installs 0 to {}", in.addr, chip.mxm_plane_rows);
  if (in.imm != static_cast<int>(ElementType::I8) && in.imm != static_cast<int>(ElementType::F16))
    s.error("element type imm {} is neither I8 ({}) nor F16 ({})", in.imm,
            static_cast<int>(ElementType::I8), static_cast<int>(ElementType::F16));
}

void check_mxm(const Site& s, const ChipConfig& chip) {
  const Instruction& in = s.in();
  switch (in.opcode) {
    case Opcode::LoadWeights: {
      const Wide last = Wide{in.addr} + Wide{in.repeat} * in.width - 1;
      if (last >= chip.mxm_plane_rows)
        s.error("loads buffer rows {} to {}, but a plane has {}", in.addr, last,
                chip.mxm_plane_rows);
      return;
    }
    case Opcode::InstallWeights: return check_install(s, chip);
    default: {
      const Range r = iterations(in.addr, in.addr_step, in.repeat);
      if (r.lo < 0 || r.hi >= chip.mxm_accumulator_rows)
        s.error("accumulator rows {} to {} leave the plane's {}", r.lo, r.hi,
                chip.mxm_accumulator_rows);
      if (in.opcode == Opcode::Compute && in.imm != 0 && in.imm != 1)
        s.error("imm {} neither overwrites (0) nor accumulates (1)", in.imm);
    }
  }
}

// Send runs on a channel's transmit queue, Receive on its receive queue.
void check_c2c(const Site& s) {
  const bool send = s.in().opcode == Opcode::Send;
  if (send != s.queue().transmit)
    s.error("{} runs only on a C2C {} queue (c2c.N.{}), but {} is a {} queue", s.mnemonic(),
            send ? "transmit" : "receive", send ? "tx" : "rx", s.queue().name,
            s.queue().transmit ? "transmit" : "receive");
}

void check_immediates(const Site& s, const ChipConfig& chip) {
  const Instruction& in = s.in();
  if ((in.opcode == Opcode::Rotate || in.opcode == Opcode::Distribute) &&
      (in.imm < 0 || in.imm >= chip.fp32_lanes()))
    s.error("lane {} is not in 0 to {}", in.imm, chip.fp32_lanes() - 1);
  if (in.opcode == Opcode::ConvertF16ToF32 && in.imm != 0 && in.imm != 1)
    s.error("imm {} selects neither the low (0) nor the high (1) half", in.imm);
}

void check_instruction(const Site& s, const Instruction* previous, const ChipConfig& chip,
                       const Floorplan& floorplan) {
  check_opcode(s);
  if (chip.delay(s.info().delay_class) < 1)
    s.error("its functional delay is {} (the hardware description must give >= 1)",
            chip.delay(s.info().delay_class));
  check_repeat(s, previous);
  check_width(s, chip);
  check_streams(s, chip, floorplan);
  const Unit unit = s.info().unit;
  if (unit == Unit::Mem) check_mem(s, chip);
  if (unit == Unit::MxmLoad || unit == Unit::MxmCompute || unit == Unit::MxmEmit)
    check_mxm(s, chip);
  if (unit == Unit::C2c) check_c2c(s);
  check_immediates(s, chip);
}

// A run of `vectors` from `addr` in `slice` lies within an existing slice.
void check_placement(const ChipConfig& chip, const Floorplan& floorplan, int slice,
                     std::uint32_t addr, std::uint64_t vectors, const std::string& what) {
  if (slice < 0 || slice >= floorplan.mem_slices())
    violation("{}: slice {} does not exist (0 to {})", what, slice, floorplan.mem_slices() - 1);
  const std::uint64_t capacity = std::uint64_t(chip.banks_per_slice) * chip.vectors_per_bank;
  if (addr + vectors > capacity)
    violation("{}: {} vectors from vector {} leave the slice's {}", what, vectors, addr, capacity);
}

// Vectors [begin, end) of a slice.
struct Extent {
  int slice;
  std::uint64_t begin, end;
  auto operator<=>(const Extent&) const = default;
};

void check_memory(const Program& program, const ChipConfig& chip, const Floorplan& floorplan) {
  std::vector<Extent> extents;
  for (std::size_t i = 0; i < program.memory.size(); ++i) {
    const MemorySegment& m = program.memory[i];
    const std::string what =
        fmt::format("memory segment {} (slice {}, addr {})", i, m.slice, m.addr);
    if (m.bytes.size() % chip.vector_bytes != 0)
      violation("{}: {} bytes are not whole {}-byte vectors", what, m.bytes.size(), chip.vector_bytes);
    const std::uint64_t vectors = m.bytes.size() / chip.vector_bytes;
    check_placement(chip, floorplan, m.slice, m.addr, vectors, what);
    extents.push_back({m.slice, m.addr, m.addr + vectors});
  }
  std::sort(extents.begin(), extents.end());
  for (std::size_t i = 1; i < extents.size(); ++i)
    if (extents[i].slice == extents[i - 1].slice && extents[i].begin < extents[i - 1].end)
      violation("memory segments overlap in slice {} at vector {}", extents[i].slice,
           extents[i].begin);
}

int element_bytes(ElementType type) {
  switch (type) {
    case ElementType::F16: return 2;
    case ElementType::I8: return 1;
    default: return 4;
  }
}

void check_buffers(const Program& program, const ChipConfig& chip, const Floorplan& floorplan) {
  std::set<std::string> names;
  for (const HostBuffer& b : program.buffers) {
    const std::string what = fmt::format("host buffer '{}'", b.name);
    check_placement(chip, floorplan, b.slice, b.addr, b.vectors, what);
    const std::uint64_t capacity =
        std::uint64_t{b.vectors} * (chip.vector_bytes / element_bytes(b.type));
    if (b.elements > capacity)
      violation("{}: {} elements do not fit in {} vectors ({} at most)", what, b.elements, b.vectors,
           capacity);
    if (!names.insert(b.name).second) violation("{}: the name is used twice", what);
  }
  try {
    check_host_interface(program);
  } catch (const MachineRuleViolation&) {
    throw;
  } catch (const Error& e) {
    throw MachineRuleViolation(e.what());
  }
}

}  // namespace

void check_program(const Program& program, const ChipConfig& chip, const Floorplan& floorplan) {
  if (program.queues.empty() && program.memory.empty() && program.buffers.empty()) return;  // Program{}
  if (std::ssize(program.queues) != floorplan.queue_count())
    violation("the program has {} instruction queues, but the chip has {}", program.queues.size(),
         floorplan.queue_count());
  for (int q = 0; q < floorplan.queue_count(); ++q) {
    const auto& queue = program.queues[q];
    for (std::size_t i = 0; i < queue.size(); ++i)
      check_instruction(Site(floorplan.queues()[q], i, queue[i]), i ? &queue[i - 1] : nullptr, chip,
                        floorplan);
  }
  check_memory(program, chip, floorplan);
  check_buffers(program, chip, floorplan);
}

std::uint64_t program_end_cycle(const Program& program, const ChipConfig& chip) {
  bool any = false;
  std::uint64_t last_effect = 0;
  for (const auto& queue : program.queues)
    for (const auto& in : queue) {
      if (static_cast<int>(in.opcode) >= kOpcodeCount)
        fail("opcode {} does not exist", static_cast<int>(in.opcode));
      const auto delay = static_cast<std::uint64_t>(chip.delay(opcode_info(in.opcode).delay_class));
      last_effect = std::max(last_effect, in.last_issue() + delay);
      any = true;
    }
  if (!any) return 0;
  return last_effect + 1 + static_cast<std::uint64_t>(chip.superlanes - 1);
}

}  // namespace lockstep::lpu
