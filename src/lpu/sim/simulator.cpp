#include "lpu/sim/simulator.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "lpu/sim/bank_ports.h"
#include "lpu/sim/issue_calendar.h"
#include "lpu/sim/memory_order.h"
#include "lpu/sim/stream_diagonals.h"
#include "lpu/sim/vector_alu.h"

namespace lockstep::lpu {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

int next_power_of_two(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

std::string stream_label(int flat) {
  const StreamId s = stream_of_flat(flat);
  return fmt::format("{}{}", s.direction == Direction::East ? 'e' : 'w', s.index);
}

const char* element_name(ElementType type) {
  switch (type) {
    case ElementType::F32: return "f32";
    case ElementType::F16: return "f16";
    case ElementType::I8: return "i8";
    case ElementType::I32: return "i32";
  }
  return "?";
}

// MXM readiness of one plane during a run, cycles @ core clock (kNever: never happened).
struct PlaneRules {
  std::vector<std::int64_t> load_ready;  // [plane rows] latest LoadWeights issue + delay
  std::int64_t last_install = kNever;    // latest InstallWeights issue cycle
  std::int64_t install_ready = kNever;   // ... + delay
  ElementType installed = ElementType::I8;
  std::vector<std::int64_t> acc_ready;  // [accumulator rows] latest Compute issue + delay
  std::vector<ElementType> acc_type;    // [accumulator rows] its element type
};

// Where a queue stands: its current instruction (decoded index) and iteration.
struct QueueCursor {
  std::uint32_t instruction = 0;
  std::uint32_t end = 0;  // one past the queue's last instruction
  std::uint32_t iteration = 0;
};

// Functional mode: MEM commits wait until their cycle (a ring of buckets by cycle).
class PendingCommits {
 public:
  PendingCommits(int window, int vector_bytes)
      : mask_(window - 1), vector_bytes_(vector_bytes), buckets_(window) {}

  void add(std::int64_t cycle, int slice, std::int64_t addr, const std::uint8_t* data) {
    Bucket& b = buckets_[static_cast<std::uint64_t>(cycle) & mask_];
    b.commits.push_back({slice, addr});
    b.bytes.insert(b.bytes.end(), data, data + vector_bytes_);
  }

  // Applies every commit of a cycle before `cycle` (all pending ones if cycle is the maximum).
  template <typename Write>
  void apply_before(std::int64_t cycle, Write&& write) {
    const std::int64_t last = std::min(cycle - 1, applied_ + static_cast<std::int64_t>(mask_ + 1));
    for (std::int64_t x = applied_ + 1; x <= last; ++x) {
      Bucket& b = buckets_[static_cast<std::uint64_t>(x) & mask_];
      for (std::size_t i = 0; i < b.commits.size(); ++i)
        write(b.commits[i].slice, b.commits[i].addr, b.bytes.data() + i * vector_bytes_);
      b.commits.clear();
      b.bytes.clear();
    }
    applied_ = std::max(applied_, cycle - 1);
  }

  void start(std::int64_t cycle) { applied_ = cycle - 1; }

 private:
  struct Commit {
    int slice;
    std::int64_t addr;
  };
  struct Bucket {
    std::vector<Commit> commits;
    std::vector<std::uint8_t> bytes;  // [commits][vector_bytes]
  };
  std::uint64_t mask_;
  int vector_bytes_;
  std::int64_t applied_ = 0;  // commits of cycles <= applied_ are in MEM
  std::vector<Bucket> buckets_;
};

}  // namespace

// One run of a decoded program on a chip.
class Execution {
 public:
  Execution(Chip& chip, const DecodedProgram& program, const Program& source, bool functional,
            LinkPort* links, TraceSink* trace)
      : chip_(chip),
        config_(chip.config_),
        floorplan_(chip.floorplan_),
        source_(source),
        links_(links),
        trace_(trace),
        program_(program),
        instructions_(program.instructions.data()),
        program_size_(static_cast<std::uint32_t>(program.instructions.size())),
        vector_bytes_(config_.vector_bytes),
        per_bank_(config_.vectors_per_bank),
        calendar_(floorplan_.queue_count()),
        streams_(kStreamSlots,
                 next_power_of_two(floorplan_.positions() + program.max_output_delay + 2),
                 functional ? config_.vector_bytes : 0),
        banks_(floorplan_.mem_slices() * config_.banks_per_slice,
               next_power_of_two(program.max_memory_delay + 2)),
        commits_(next_power_of_two(program.max_memory_delay + 2), config_.vector_bytes),
        order_(floorplan_.mem_slices(), chip.slice_vectors_,
               next_power_of_two(program.max_memory_delay + 2)) {
    // Within a cycle: MXM emit queues, then compute/install, then load, then everything else.
    const int queues = floorplan_.queue_count();
    for (Unit first : {Unit::MxmEmit, Unit::MxmCompute, Unit::MxmLoad})
      for (int q = 0; q < queues; ++q)
        if (floorplan_.queues()[q].unit == first) rank_queue_.push_back(q);
    for (int q = 0; q < queues; ++q) {
      const Unit u = floorplan_.queues()[q].unit;
      if (u != Unit::MxmEmit && u != Unit::MxmCompute && u != Unit::MxmLoad)
        rank_queue_.push_back(q);
    }
    commit_horizon_.assign(queues, kNever);
    queue_rank_.resize(queues);
    for (int rank = 0; rank < queues; ++rank) queue_rank_[rank_queue_[rank]] = rank;
    cursors_.resize(queues);
    for (int rank = 0; rank < queues; ++rank) {
      const int q = rank_queue_[rank];
      cursors_[rank] = {program.queue_begin[q], program.queue_begin[q + 1], 0};
    }
    rules_.resize(floorplan_.mxm_planes());
    for (PlaneRules& p : rules_) {
      p.load_ready.assign(config_.mxm_plane_rows, kNever);
      p.acc_ready.assign(config_.mxm_accumulator_rows, kNever);
      p.acc_type.assign(config_.mxm_accumulator_rows, ElementType::I32);
    }
    zero_.assign(vector_bytes_, 0);
    scratch_.assign(static_cast<std::size_t>(4) * vector_bytes_, 0);
    if (program.uses_links && links == nullptr)
      for (std::uint32_t i = 0; i < program_size_; ++i)
        if (opcode_info(instructions_[i].opcode).unit == Unit::C2c)
          violation(
              "{} instruction {} (cycle {}) is a C2C '{}', which needs a system to run: its "
              "chip has no links",
              floorplan_.queues()[instructions_[i].queue].name, instructions_[i].index,
              instructions_[i].cycle, opcode_info(instructions_[i].opcode).mnemonic);
    begin();
  }

  // Executes every iteration whose issue cycle is below `until`; false once none remain (the
  // run's last effects are then applied).
  template <bool kFunctional, bool kTraced>
  bool advance(std::int64_t until) {
    if (done_) return false;
    while (calendar_.now() < until) {
      const std::int64_t now = calendar_.now();
      if constexpr (kTraced) sample_streams(window_, now);
      if constexpr (kFunctional) apply_commits_before(now);
      if (program_.uses_order) apply_order_before(now);
      calendar_.drain([this](int rank) { step<kFunctional, kTraced>(rank); });
      if (!calendar_.advance()) {
        done_ = true;
        if constexpr (kFunctional) apply_commits_before(std::numeric_limits<std::int64_t>::max());
        if (program_.uses_order) apply_order_before(std::numeric_limits<std::int64_t>::max());
        if constexpr (kTraced)
          sample_streams(window_, std::numeric_limits<std::int64_t>::max());
        return false;
      }
    }
    return true;
  }

  // Schedules every queue's first instruction.
  void begin() {
    std::int64_t first = std::numeric_limits<std::int64_t>::max();
    for (const QueueCursor& c : cursors_)
      if (c.instruction < c.end) first = std::min(first, instructions_[c.instruction].cycle);
    if (first == std::numeric_limits<std::int64_t>::max()) {
      done_ = true;
      return;
    }
    calendar_.start(first);
    commits_.start(first);
    order_.start(first);
    for (int rank = 0; rank < static_cast<int>(rank_queue_.size()); ++rank) {
      const QueueCursor& c = cursors_[rank];
      if (c.instruction < c.end) calendar_.schedule(rank, instructions_[c.instruction].cycle);
    }
    window_ = first / kStreamSampleCycles;
  }

 private:
  // ---- scheduling ------------------------------------------------------------------------
  template <bool kFunctional, bool kTraced>
  [[gnu::always_inline]] void step(int rank) {
    QueueCursor& cursor = cursors_[rank];
    const std::uint32_t di = cursor.instruction;
    const DecodedInstruction& d = instructions_[di];
    const std::int64_t cycle = calendar_.now();
    const std::uint32_t iteration = cursor.iteration;
    if constexpr (kTraced) {
      if (iteration == 0)
        trace_->instruction(d.queue, d.index, source_.queues[d.queue][d.index], d.delay);
    }
    execute<kFunctional, kTraced>(d, di, iteration, cycle);
    if (++cursor.iteration < d.repeat) {
      if (d.stride != 1)
        calendar_.schedule(rank, cycle + d.stride);
      else if (cursor.iteration == 1)
        calendar_.hold(rank);  // issues every cycle until its last iteration
    } else {
      if (d.stride == 1 && d.repeat > 1) calendar_.release(rank);
      cursor.iteration = 0;
      if (++cursor.instruction < cursor.end)
        calendar_.schedule(rank, instructions_[cursor.instruction].cycle);
    }
  }

  // ---- one iteration ---------------------------------------------------------------------
  template <bool kFunctional, bool kTraced>
  [[gnu::always_inline]] void execute(const DecodedInstruction& d, std::uint32_t di,
                                      std::uint32_t it, std::int64_t cycle) {
    switch (d.opcode) {
      case Opcode::Read: {
        const std::int64_t a = d.addr + std::int64_t{it} * d.addr_step;
        const std::uint8_t* data[2] = {nullptr, nullptr};
        for (int w = 0; w < d.width; ++w) {
          check_bank_read(d, di, it, d.width == 2 ? w : bank_of(d, a), cycle);
          if (d.order != 0) check_order_read(d, di, it, a + w * per_bank_, cycle);
          if constexpr (kFunctional) data[w] = chip_.mem_vector(d.slice, a + w * per_bank_);
        }
        write_outputs<kFunctional, kTraced>(d, di, it, cycle, data);
        return;
      }
      case Opcode::Write: {
        const std::int64_t a = d.addr + std::int64_t{it} * d.addr_step;
        const std::int64_t commit = cycle + d.delay;
        for (int w = 0; w < d.width; ++w) {
          const std::uint8_t* data = read_input<kFunctional>(d, di, it, cycle, w);
          const std::int64_t aw = a + w * per_bank_;
          book_bank_commit(d, di, it, d.width == 2 ? w : bank_of(d, a), commit);
          if (d.order != 0) order_.add_commit(commit, d.slice, aw, d.order, di, it);
          if constexpr (kFunctional) commits_.add(commit, d.slice, aw, data);
        }
        return;
      }
      case Opcode::Gather: {
        const std::uint8_t* index = read_input<kFunctional>(d, di, it, cycle, 0);
        const std::int64_t base = d.addr + std::int64_t{it} * d.addr_step;
        check_bank_read(d, di, it, bank_of(d, base), cycle);
        if (d.order != 0)
          for (std::int64_t row = 0; row < d.imm3; ++row) check_order_read(d, di, it, base + row * d.imm, cycle);
        const std::uint8_t* data[1] = {nullptr};
        if constexpr (kFunctional) {
          const std::int64_t row = lane0(index);
          data[0] = row >= d.imm2 && row < std::int64_t{d.imm2} + d.imm3
                        ? chip_.mem_vector(d.slice, base + (row - d.imm2) * d.imm)
                        : zero_.data();
        }
        write_outputs<kFunctional, kTraced>(d, di, it, cycle, data);
        return;
      }
      case Opcode::Scatter: {
        const std::uint8_t* index = read_input<kFunctional>(d, di, it, cycle, 0);
        const std::uint8_t* data = read_input<kFunctional>(d, di, it, cycle, 1);
        const std::int64_t base = d.addr + std::int64_t{it} * d.addr_step;
        const std::int64_t commit = cycle + d.delay;
        book_bank_commit(d, di, it, bank_of(d, base), commit);
        if (d.order != 0)
          for (std::int64_t row = 0; row < d.imm3; ++row)
            order_.add_commit(commit, d.slice, base + row * d.imm, d.order, di, it);
        if constexpr (kFunctional) {
          const std::int64_t row = lane0(index);
          if (row >= d.imm2 && row < std::int64_t{d.imm2} + d.imm3)
            commits_.add(commit, d.slice, base + (row - d.imm2) * d.imm, data);
        }
        return;
      }
      case Opcode::LoadWeights: load_weights<kFunctional>(d, di, it, cycle); return;
      case Opcode::InstallWeights: install_weights<kFunctional>(d, di, it, cycle); return;
      case Opcode::Compute: compute<kFunctional>(d, di, it, cycle); return;
      case Opcode::Emit: emit<kFunctional, kTraced>(d, di, it, cycle); return;
      case Opcode::Send: {
        const std::uint8_t* data = read_input<kFunctional>(d, di, it, cycle, 0);
        links_->send(d.channel, cycle, data);
        return;
      }
      case Opcode::Receive: {
        const std::uint8_t* out[1] = {links_->receive(d.channel, cycle)};
        if constexpr (kFunctional) {
          if (out[0] == nullptr) [[unlikely]]
            fail("{}: the link port gave no vector in a functional run", who(di, it));
        }
        write_outputs<kFunctional, kTraced>(d, di, it, cycle, out);
        return;
      }
      default: {  // VXM and SXM
        const std::uint8_t* inputs[4] = {nullptr, nullptr, nullptr, nullptr};
        for (int k = 0; k < d.inputs; ++k) inputs[k] = read_input<kFunctional>(d, di, it, cycle, k);
        const std::uint8_t* out[1] = {nullptr};
        if constexpr (kFunctional) {
          execute_vector_op(d.opcode, std::span<const std::uint8_t* const>(inputs, d.inputs),
                            scratch_.data(), vector_bytes_, d.imm, d.fimm);
          out[0] = scratch_.data();
        }
        write_outputs<kFunctional, kTraced>(d, di, it, cycle, out);
        return;
      }
    }
  }

  // ---- MXM -------------------------------------------------------------------------------
  template <bool kFunctional>
  [[gnu::always_inline]] void load_weights(const DecodedInstruction& d, std::uint32_t di,
                                           std::uint32_t it, std::int64_t cycle) {
    PlaneRules& rules = rules_[d.plane];
    for (int w = 0; w < d.width; ++w) {
      const std::uint8_t* data = read_input<kFunctional>(d, di, it, cycle, w);
      const std::int64_t row = d.addr + std::int64_t{it} * d.width + w;
      rules.load_ready[row] = cycle + d.delay;
      if constexpr (kFunctional)
        std::memcpy(chip_.plane(d.plane).buffer.data() + row * vector_bytes_, data, vector_bytes_);
    }
  }

  template <bool kFunctional>
  void install_weights(const DecodedInstruction& d, std::uint32_t di, std::uint32_t it,
                       std::int64_t cycle) {
    PlaneRules& rules = rules_[d.plane];
    for (std::int64_t row = 0; row < d.addr; ++row) {
      const std::int64_t ready = rules.load_ready[row];
      if (ready == kNever || ready <= rules.last_install)
        violation(
            "{} installs weights at cycle {}, but buffer row {} was not loaded since the "
            "previous install",
            who(di, it), cycle, row);
      if (ready > cycle)
        violation("{} installs weights at cycle {}, but buffer row {} is loaded only at cycle {}",
                  who(di, it), cycle, row, ready);
    }
    rules.last_install = cycle;
    rules.install_ready = cycle + d.delay;
    rules.installed = static_cast<ElementType>(d.imm);
    if constexpr (kFunctional) {
      Chip::Plane& plane = chip_.plane(d.plane);
      plane.array.install(rules.installed, plane.buffer.data(), config_.mxm_plane_rows,
                          static_cast<int>(d.addr), vector_bytes_);
    }
  }

  template <bool kFunctional>
  void compute(const DecodedInstruction& d, std::uint32_t di, std::uint32_t it,
               std::int64_t cycle) {
    const std::uint8_t* x = read_input<kFunctional>(d, di, it, cycle, 0);
    PlaneRules& rules = rules_[d.plane];
    if (rules.install_ready == kNever)
      violation("{} computes at cycle {}, but no weights are installed", who(di, it), cycle);
    if (rules.install_ready > cycle)
      violation(
          "{} computes at cycle {}, but the weights installed at cycle {} are ready only "
          "at cycle {}",
          who(di, it), cycle, rules.last_install, rules.install_ready);
    const std::int64_t row = d.addr + std::int64_t{it} * d.addr_step;
    const bool accumulate = d.imm == 1;
    const ElementType type =
        rules.installed == ElementType::I8 ? ElementType::I32 : ElementType::F32;
    if (accumulate && rules.acc_ready[row] == kNever)
      violation(
          "{} accumulates into accumulator row {} at cycle {}, but the row holds no result "
          "of this run",
          who(di, it), row, cycle);
    if (accumulate && rules.acc_type[row] != type)
      violation(
          "{} accumulates {} results into accumulator row {} at cycle {}, but the row "
          "holds {} results",
          who(di, it), element_name(type), row, cycle, element_name(rules.acc_type[row]));
    rules.acc_ready[row] = cycle + d.delay;
    rules.acc_type[row] = type;
    if constexpr (kFunctional) {
      Chip::Plane& plane = chip_.plane(d.plane);
      plane.array.compute(x, accumulate, plane.accumulator.data() + row * accumulator_row_bytes());
    }
  }

  template <bool kFunctional, bool kTraced>
  void emit(const DecodedInstruction& d, std::uint32_t di, std::uint32_t it, std::int64_t cycle) {
    const PlaneRules& rules = rules_[d.plane];
    const std::int64_t row = d.addr + std::int64_t{it} * d.addr_step;
    const std::int64_t ready = rules.acc_ready[row];
    if (ready == kNever)
      violation("{} emits accumulator row {} at cycle {}, but the row holds no result of this run",
                who(di, it), row, cycle);
    if (ready > cycle)
      violation(
          "{} emits accumulator row {} at cycle {}, but its latest compute is ready only "
          "at cycle {}",
          who(di, it), row, cycle, ready);
    const std::uint8_t* data[4] = {nullptr, nullptr, nullptr, nullptr};
    if constexpr (kFunctional) {
      const std::uint8_t* acc =
          chip_.plane(d.plane).accumulator.data() + row * accumulator_row_bytes();
      for (int j = 0; j < 4; ++j) data[j] = acc + j * vector_bytes_;
    }
    write_outputs<kFunctional, kTraced>(d, di, it, cycle, data);
  }

  std::int64_t accumulator_row_bytes() const { return std::int64_t{config_.mxm_plane_rows} * 4; }

  // ---- streams and banks -----------------------------------------------------------------
  template <bool kFunctional>
  [[gnu::always_inline]] const std::uint8_t* read_input(const DecodedInstruction& d,
                                                        std::uint32_t di, std::uint32_t it,
                                                        std::int64_t cycle, int k) {
    const int stream = d.in_stream[k];
    const std::int64_t key = cycle + d.in_key_offset[k];
    const StreamDiagonals::Found found = streams_.find<kFunctional>(stream, key, d.position);
    if (!found) [[unlikely]]
      no_vector(d, di, it, cycle, k);
    if constexpr (kFunctional) return streams_.payload(found);
    return nullptr;
  }

  template <bool kFunctional, bool kTraced>
  [[gnu::always_inline]] void write_outputs(const DecodedInstruction& d, std::uint32_t di,
                                            std::uint32_t it, std::int64_t cycle,
                                            const std::uint8_t* const* payloads) {
    const std::int64_t key = cycle + d.out_key_offset;
    for (int k = 0; k < d.outputs; ++k) {
      if (!streams_.write<kFunctional>(d.out_stream + k, key, d.segment_lo, d.segment_hi,
                                       payloads[k])) [[unlikely]]
        collision(di, it, d.out_stream + k, key);
    }
    if constexpr (kTraced)
      streams_written_ |= ((std::uint64_t{1} << d.outputs) - 1) << d.out_stream;
  }

  // The bank of a width-1 access (width 2 uses bank w for its w-th vector).
  int bank_of(const DecodedInstruction& d, std::int64_t addr) const {
    return d.fixed_bank >= 0 ? d.fixed_bank : static_cast<int>(addr / per_bank_);
  }

  // A bank is used only by its slice's queue. Reads need no booking: a commit at cycle c is
  // booked at c - delay, before any read at c executes, so a read only checks for a commit, and
  // only when its queue has one still to land.
  [[gnu::always_inline]] void check_bank_read(const DecodedInstruction& d, std::uint32_t di,
                                              std::uint32_t it, int bank, std::int64_t cycle) {
    if (commit_horizon_[d.queue] >= cycle && banks_.booked(d.bank_base + bank, cycle)) [[unlikely]]
      bank_conflict(di, it, bank, cycle, false);
  }

  [[gnu::always_inline]] void book_bank_commit(const DecodedInstruction& d, std::uint32_t di,
                                               std::uint32_t it, int bank, std::int64_t cycle) {
    if (!banks_.book(d.bank_base + bank, cycle)) [[unlikely]]
      bank_conflict(di, it, bank, cycle, true);
    commit_horizon_[d.queue] = std::max(commit_horizon_[d.queue], cycle);
  }

  static std::int64_t lane0(const std::uint8_t* index) {
    std::int32_t row;
    std::memcpy(&row, index, 4);
    return row;
  }

  void apply_commits_before(std::int64_t cycle) {
    commits_.apply_before(cycle, [this](int slice, std::int64_t addr, const std::uint8_t* data) {
      std::memcpy(chip_.mem_vector(slice, addr), data, vector_bytes_);
    });
  }

  [[gnu::always_inline]] void check_order_read(const DecodedInstruction& d, std::uint32_t di,
                                               std::uint32_t it, std::int64_t addr,
                                               std::int64_t cycle) {
    if (const MemoryOrder::Fault f = order_.read(d.slice, addr, d.order)) [[unlikely]]
      order_fault_on_read(di, it, addr, cycle, f.other_order);
  }

  void apply_order_before(std::int64_t cycle) {
    order_.apply_before(cycle, [this](const MemoryOrder::Commit& c, MemoryOrder::Fault f) {
      order_fault_on_commit(c, f);
    });
  }

  void sample_streams(std::int64_t& window, std::int64_t now) {
    const std::int64_t current = now / kStreamSampleCycles;
    if (current == window) return;
    const auto count = [](std::uint64_t bits) { return std::popcount(bits); };
    trace_->streams_in_use(static_cast<std::uint64_t>(window * kStreamSampleCycles),
                           count(streams_written_ & 0xffffffffu), count(streams_written_ >> 32));
    if (current > window + 1 && now != std::numeric_limits<std::int64_t>::max())
      trace_->streams_in_use(static_cast<std::uint64_t>((window + 1) * kStreamSampleCycles), 0, 0);
    streams_written_ = 0;
    window = current;
  }

  // ---- messages (cold) -------------------------------------------------------------------
  // The hot structures do not record who did what; these work it out from the program.

  std::string who(std::uint32_t di, std::uint32_t it) const {
    const DecodedInstruction& d = instructions_[di];
    return fmt::format("{} instruction {} iteration {}", floorplan_.queues()[d.queue].name, d.index,
                       it);
  }

  // Execution order of an iteration: issue cycle, then rank.
  std::pair<std::int64_t, int> order(std::uint32_t di, std::uint32_t it) const {
    const DecodedInstruction& d = instructions_[di];
    return {d.cycle + std::int64_t{it} * d.stride, queue_rank_[d.queue]};
  }

  // The iteration of `d` whose issue cycle + offset is `cycle`, or -1.
  static std::int64_t iteration_at(const DecodedInstruction& d, std::int64_t cycle,
                                   std::int64_t offset) {
    const std::int64_t since = cycle - offset - d.cycle;
    if (since < 0 || since % d.stride != 0 || since / d.stride >= d.repeat) return -1;
    return since / d.stride;
  }

  struct Culprit {
    std::uint32_t instruction = 0;
    std::uint32_t iteration = 0;
    bool found = false;
  };

  // The first iteration executed before (di, it) that wrote `stream` on `key` over positions
  // meeting [lo, hi].
  Culprit stream_writer(std::uint32_t di, std::uint32_t it, int stream, std::int64_t key, int lo,
                        int hi) const {
    Culprit best;
    for (std::uint32_t i = 0; i < program_size_; ++i) {
      const DecodedInstruction& w = instructions_[i];
      if (w.outputs == 0 || stream < w.out_stream || stream >= w.out_stream + w.outputs) continue;
      if (w.segment_hi < lo || hi < w.segment_lo) continue;
      const std::int64_t n = iteration_at(w, key, w.out_key_offset);
      if (n < 0) continue;
      const auto candidate = static_cast<std::uint32_t>(n);
      if (order(i, candidate) >= order(di, it)) continue;
      if (!best.found || order(i, candidate) < order(best.instruction, best.iteration))
        best = {i, candidate, true};
    }
    return best;
  }

  [[noreturn]] [[gnu::noinline]] void no_vector(const DecodedInstruction& d, std::uint32_t di,
                                                std::uint32_t it, std::int64_t cycle, int k) const {
    const int stream = d.in_stream[k];
    const std::int64_t key = cycle + d.in_key_offset[k];
    std::string detail;
    const Culprit writer = stream_writer(di, it, stream, key, 0, floorplan_.positions() - 1);
    if (writer.found) {
      const DecodedInstruction& w = instructions_[writer.instruction];
      detail = fmt::format("; the vector {} wrote on that diagonal covers positions {}..{} only",
                           who(writer.instruction, writer.iteration), w.segment_lo, w.segment_hi);
    }
    violation("no vector on stream {} at position {}, cycle {} (read by {}){}",
              stream_label(stream), d.position, cycle, who(di, it), detail);
  }

  [[noreturn]] [[gnu::noinline]] void collision(std::uint32_t di, std::uint32_t it, int stream,
                                                std::int64_t key) const {
    const DecodedInstruction& d = instructions_[di];
    const Culprit other = stream_writer(di, it, stream, key, d.segment_lo, d.segment_hi);
    const int position = other.found
                             ? std::max(d.segment_lo, instructions_[other.instruction].segment_lo)
                             : d.segment_lo;
    const bool east = stream_of_flat(stream).direction == Direction::East;
    const std::int64_t cycle = east ? key + position : key - position;
    violation(
        "two writes collide on stream {} at position {}, cycle {}: {} writes over the "
        "vector of {}",
        stream_label(stream), position, cycle, who(di, it),
        other.found ? who(other.instruction, other.iteration) : "another write");
  }

  [[noreturn]] [[gnu::noinline]] void bank_conflict(std::uint32_t di, std::uint32_t it, int bank,
                                                    std::int64_t cycle, bool commit) const {
    const DecodedInstruction& d = instructions_[di];
    const auto kind = [](bool c) { return c ? "write commit" : "read"; };
    std::string other = "another access";
    for (std::uint32_t i = program_.queue_begin[d.queue]; i < program_.queue_begin[d.queue + 1];
         ++i) {
      const DecodedInstruction& m = instructions_[i];
      const OpcodeInfo& info = opcode_info(m.opcode);
      const bool m_commit = info.writes_memory;
      const std::int64_t n = iteration_at(m, cycle, m_commit ? m.delay : 0);
      if (n < 0 || order(i, static_cast<std::uint32_t>(n)) >= order(di, it)) continue;
      const std::int64_t a = m.addr + n * m.addr_step;
      const bool both = (m.opcode == Opcode::Read || m.opcode == Opcode::Write) && m.width == 2;
      if (!both && bank_of(m, a) != bank) continue;
      other = fmt::format("the {} of {}", kind(m_commit), who(i, static_cast<std::uint32_t>(n)));
      break;
    }
    violation(
        "bank {} of {} serves two accesses in cycle {}: the {} of {} and {} "
        "(a bank serves one access per cycle)",
        bank, floorplan_.queues()[d.queue].name, cycle, kind(commit), who(di, it), other);
  }

  // An instruction of `order` on the queue of MEM slice `slice`, for a message.
  std::string order_holder(int slice, std::uint32_t order) const {
    const int q = floorplan_.mem_queue(slice);
    for (std::uint32_t i = program_.queue_begin[q]; i < program_.queue_begin[q + 1]; ++i)
      if (instructions_[i].order == order)
        return fmt::format("{} instruction {}", floorplan_.queues()[q].name, instructions_[i].index);
    return "an instruction";
  }

  [[noreturn]] [[gnu::noinline]] void order_fault_on_read(std::uint32_t di, std::uint32_t it,
                                                          std::int64_t addr, std::int64_t cycle,
                                                          std::uint32_t later) const {
    const DecodedInstruction& d = instructions_[di];
    violation(
        "memory data hazard: {} (memory order {}) reads vector {} of {} at cycle {}, but {} "
        "(order {}, later in the program) has already written over the value it should read",
        who(di, it), d.order, addr, floorplan_.queues()[d.queue].name, cycle,
        order_holder(d.slice, later), later);
  }

  [[noreturn]] [[gnu::noinline]] void order_fault_on_commit(const MemoryOrder::Commit& c,
                                                            MemoryOrder::Fault f) const {
    const std::string slice = floorplan_.queues()[floorplan_.mem_queue(c.slice)].name;
    if (f.kind == MemoryOrder::Fault::Kind::ReadBeforeWrite)
      violation(
          "memory data hazard: {} (memory order {}) commits vector {} of {} at cycle {}, but {} "
          "(order {}, which relies on it) has already read that vector: a read before the write "
          "it relies on has committed",
          who(c.writer, c.iteration), c.order, c.addr, slice, c.cycle,
          order_holder(c.slice, f.other_order), f.other_order);
    violation(
        "memory data hazard: {} (memory order {}) commits vector {} of {} at cycle {}, over the "
        "value {} (order {}, later in the program) wrote: two writes land out of order",
        who(c.writer, c.iteration), c.order, c.addr, slice, c.cycle,
        order_holder(c.slice, f.other_order), f.other_order);
  }

  Chip& chip_;
  const ChipConfig& config_;
  const Floorplan& floorplan_;
  const Program& source_;
  LinkPort* links_;  // the chip's C2C channels, or nullptr (then the program has none)
  TraceSink* trace_;
  const DecodedProgram& program_;
  const DecodedInstruction* instructions_;
  std::uint32_t program_size_;
  int vector_bytes_;
  std::int64_t per_bank_;
  std::vector<int> rank_queue_;               // [rank] -> queue id
  std::vector<int> queue_rank_;               // [queue id] -> rank
  std::vector<QueueCursor> cursors_;          // [rank]
  std::vector<std::int64_t> commit_horizon_;  // [queue id] latest bank commit booked, cycle
  std::vector<PlaneRules> rules_;             // [plane]
  IssueCalendar calendar_;
  StreamDiagonals streams_;
  BankPorts banks_;
  PendingCommits commits_;
  MemoryOrder order_;
  std::vector<std::uint8_t> zero_;     // [vector_bytes] the zero vector
  std::vector<std::uint8_t> scratch_;  // [4][vector_bytes] outputs being computed
  std::uint64_t streams_written_ = 0;  // trace: bit = flat stream written in this window
  std::int64_t window_ = 0;            // trace: current stream sample window
  bool done_ = false;                  // every iteration has executed
};

// ---- Chip ------------------------------------------------------------------------------------

Chip::Chip(const ChipConfig& config)
    : config_(config),
      floorplan_(config),
      slice_vectors_(std::int64_t{config.vectors_per_bank} * config.banks_per_slice) {
  if (config.vector_bytes <= 0 || config.vector_bytes % 4 != 0 ||
      config.vector_bytes != config.superlanes * config.lanes_per_superlane)
    fail("vector_bytes {} must equal superlanes x lanes per superlane ({} x {}), a multiple of 4",
         config.vector_bytes, config.superlanes, config.lanes_per_superlane);
  if (config.mxm_plane_rows != config.vector_bytes)
    fail(
        "the simulator needs mxm_plane_rows ({}) = vector_bytes ({}): an accumulator row of "
        "4-byte outputs is emitted as 4 vectors",
        config.mxm_plane_rows, config.vector_bytes);
  if (config.banks_per_slice < 1 || config.vectors_per_bank < 1)
    fail("a MEM slice needs at least one bank of at least one vector");
  if (config.streams_per_direction < 1 || config.streams_per_direction > 32)
    fail("streams_per_direction {} is outside 1..32 (the stream encoding has 5 index bits)",
         config.streams_per_direction);
  if (floorplan_.positions() > 256)
    fail("{} positions do not fit the 8-bit reach field", floorplan_.positions());
  if (config.mxm_load_streams < 1 || config.mxm_load_streams > kMaxStreamInputs)
    fail("mxm_load_streams {} is outside 1..{}", config.mxm_load_streams, kMaxStreamInputs);
  mem_.resize(floorplan_.mem_slices());
  planes_.resize(floorplan_.mxm_planes());
}

Chip::~Chip() = default;

void Chip::check_range(int slice, std::int64_t addr, std::int64_t vectors, const char* what) const {
  if (slice < 0 || slice >= floorplan_.mem_slices())
    fail("{} names MEM slice {}, but the chip has {}", what, slice, floorplan_.mem_slices());
  if (addr < 0 || vectors < 0 || addr + vectors > slice_vectors_)
    fail("{} covers vectors {}..{} of MEM slice {}, which holds {}", what, addr, addr + vectors - 1,
         slice, slice_vectors_);
}

std::uint8_t* Chip::mem_vector(int slice, std::int64_t addr) {
  auto& memory = mem_[slice];
  if (!memory)
    memory.reset(
        new std::uint8_t[static_cast<std::size_t>(slice_vectors_) * config_.vector_bytes]());
  return memory.get() + addr * config_.vector_bytes;
}

const std::uint8_t* Chip::mem_vector_if_present(int slice, std::int64_t addr) const {
  const auto& memory = mem_[slice];
  return memory ? memory.get() + addr * config_.vector_bytes : nullptr;
}

Chip::Plane& Chip::plane(int index) {
  auto& p = planes_[index];
  if (!p) {
    p = std::make_unique<Plane>();
    p->buffer.assign(static_cast<std::size_t>(config_.mxm_plane_rows) * config_.vector_bytes, 0);
    p->accumulator.assign(
        static_cast<std::size_t>(config_.mxm_accumulator_rows) * config_.mxm_plane_rows * 4, 0);
  }
  return *p;
}

void Chip::load_memory(const Program& program) {
  for (const MemorySegment& segment : program.memory) {
    if (segment.bytes.size() % config_.vector_bytes != 0)
      fail("memory segment at slice {} address {} holds {} bytes, not whole {}-byte vectors",
           segment.slice, segment.addr, segment.bytes.size(), config_.vector_bytes);
    const std::int64_t vectors =
        static_cast<std::int64_t>(segment.bytes.size()) / config_.vector_bytes;
    check_range(segment.slice, segment.addr, vectors, "a memory segment");
    if (vectors > 0)
      std::memcpy(mem_vector(segment.slice, segment.addr), segment.bytes.data(),
                  segment.bytes.size());
  }
}

void Chip::write_buffer(const HostBuffer& buffer, std::span<const std::uint8_t> bytes) {
  check_range(buffer.slice, buffer.addr, buffer.vectors, ("buffer '" + buffer.name + "'").c_str());
  const std::size_t size = static_cast<std::size_t>(buffer.vectors) * config_.vector_bytes;
  if (bytes.size() > size)
    fail("buffer '{}' holds {} bytes; {} given", buffer.name, size, bytes.size());
  if (size == 0) return;
  std::uint8_t* dst = mem_vector(buffer.slice, buffer.addr);
  std::memcpy(dst, bytes.data(), bytes.size());
  std::memset(dst + bytes.size(), 0, size - bytes.size());
}

std::vector<std::uint8_t> Chip::read_buffer(const HostBuffer& buffer) const {
  check_range(buffer.slice, buffer.addr, buffer.vectors, ("buffer '" + buffer.name + "'").c_str());
  std::vector<std::uint8_t> out(static_cast<std::size_t>(buffer.vectors) * config_.vector_bytes, 0);
  if (const std::uint8_t* src = mem_vector_if_present(buffer.slice, buffer.addr))
    std::memcpy(out.data(), src, out.size());
  return out;
}

std::vector<std::uint8_t> Chip::read_vector(int slice, std::uint32_t addr) const {
  check_range(slice, addr, 1, "a vector read");
  std::vector<std::uint8_t> out(config_.vector_bytes, 0);
  if (const std::uint8_t* src = mem_vector_if_present(slice, addr))
    std::memcpy(out.data(), src, out.size());
  return out;
}

void Chip::write_vector(int slice, std::uint32_t addr, std::span<const std::uint8_t> bytes) {
  check_range(slice, addr, 1, "a vector write");
  if (bytes.size() != static_cast<std::size_t>(config_.vector_bytes))
    fail("a vector is {} bytes; {} given", config_.vector_bytes, bytes.size());
  std::memcpy(mem_vector(slice, addr), bytes.data(), bytes.size());
}

std::vector<std::uint8_t> Chip::read_accumulator(int plane_index, int row) const {
  if (plane_index < 0 || plane_index >= floorplan_.mxm_planes() || row < 0 ||
      row >= config_.mxm_accumulator_rows)
    fail("accumulator row {} of MXM plane {} does not exist", row, plane_index);
  const std::size_t bytes = static_cast<std::size_t>(config_.mxm_plane_rows) * 4;
  std::vector<std::uint8_t> out(bytes, 0);
  if (const auto& p = planes_[plane_index])
    std::memcpy(out.data(), p->accumulator.data() + row * bytes, bytes);
  return out;
}

SimulationResult Chip::run(const Program& program, SimulationMode mode, TraceSink* trace,
                           LinkPort* links) {
  return run(decode(program), program, mode, trace, links);
}

DecodedProgram Chip::decode(const Program& program) const {
  return decode_program(program, config_, floorplan_);
}

SimulationResult Chip::run(const DecodedProgram& decoded, const Program& program,
                           SimulationMode mode, TraceSink* trace, LinkPort* links) {
  ChipRun run(*this, decoded, program, mode, links, trace);
  return run.finish();
}

// ---- ChipRun ---------------------------------------------------------------------------------

ChipRun::ChipRun(Chip& chip, const DecodedProgram& decoded, const Program& program,
                 SimulationMode mode, LinkPort* links, TraceSink* trace)
    : decoded_(decoded), program_(program), trace_(trace) {
  const bool functional = mode == SimulationMode::Functional;
  execution_ = std::make_unique<Execution>(chip, decoded, program, functional, links, trace);
  if (functional)
    advance_ = trace != nullptr ? &Execution::advance<true, true> : &Execution::advance<true, false>;
  else
    advance_ =
        trace != nullptr ? &Execution::advance<false, true> : &Execution::advance<false, false>;
  if (trace != nullptr) trace->begin_run(chip.config(), chip.floorplan(), program);
}

ChipRun::~ChipRun() = default;

bool ChipRun::advance(std::int64_t until_cycle) {
  if (finished_) fail("a finished chip run cannot advance");
  return ((*execution_).*advance_)(until_cycle);
}

SimulationResult ChipRun::finish() {
  if (finished_) fail("a chip run finishes once");
  ((*execution_).*advance_)(std::numeric_limits<std::int64_t>::max());
  finished_ = true;
  if (trace_ != nullptr) trace_->end_run(decoded_.cycles);

  SimulationResult result;
  result.cycles = decoded_.cycles;
  result.instructions = decoded_.instructions.size();
  result.iterations = decoded_.iterations;
  result.unit_iterations = decoded_.unit_iterations;
  result.queue_iterations = decoded_.queue_iterations;
  result.stream_vector_hops = decoded_.stream_vector_hops;
  result.mem_bank_accesses = decoded_.mem_bank_accesses;
  if (program_.predicted_cycles != 0 && program_.predicted_cycles != result.cycles)
    fail("the run lasted {} cycles, but the compiler predicted {}", result.cycles,
         program_.predicted_cycles);
  return result;
}

}  // namespace lockstep::lpu
