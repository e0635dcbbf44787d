#include "compiler/scheduler.h"

#include <algorithm>
#include <span>

#include "core/error.h"

namespace lockstep::compiler {
namespace {

constexpr std::uint64_t kMaxSearch = 4'000'000;  // anchor cycles tried before giving up

std::uint64_t at_least(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

// A stream diagonal run taken tentatively while one group's streams are being picked.
struct Claim {
  Direction dir;
  int index;
  std::int64_t first_key;
  std::int64_t keys;
  int lo, hi;
};

bool overlaps(const Claim& a, const Claim& b) {
  return a.dir == b.dir && a.index == b.index && a.first_key < b.first_key + b.keys &&
         b.first_key < a.first_key + a.keys && a.lo <= b.hi && b.lo <= a.hi;
}

}  // namespace

Scheduler::Scheduler(const ChipConfig& chip, const Floorplan& floorplan, Program& program)
    : chip_(chip), floorplan_(floorplan), program_(program), book_(chip, floorplan) {
  program_.queues.resize(floorplan.queue_count());
}

Direction Scheduler::link_direction(const Group& g, const Link& l) const {
  const int from = position_of(g.stages[l.producer].queue);
  const int to = position_of(g.stages[l.consumers.front().first].queue);
  return direction_towards(from, to);
}

int Scheduler::link_reach(const Group& g, const Link& l) const {
  // Every output of a producer travels to the farthest consumer of any of its links.
  const int from = position_of(g.stages[l.producer].queue);
  int reach = from;
  for (const Link& other : g.links) {
    if (other.producer != l.producer) continue;
    for (auto [stage, slot] : other.consumers) {
      const int to = position_of(g.stages[stage].queue);
      if (std::abs(to - from) > std::abs(reach - from)) reach = to;
    }
  }
  return reach;
}

void Scheduler::check_links(const Group& g) const {
  for (const Link& l : g.links) {
    const Stage& p = g.stages[l.producer];
    const int from = position_of(p.queue);
    const Direction dir = link_direction(g, l);
    for (auto [c, slot] : l.consumers) {
      const Stage& s = g.stages[c];
      const int to = position_of(s.queue);
      if (to == from || direction_towards(from, to) != dir)
        fail("internal compiler error in {}: a link runs both ways", g.what);
      const std::int64_t expect = p.offset + delay_of(p.instruction.opcode) + hop_distance(from, to);
      if (s.offset != expect)
        fail("internal compiler error in {}: stage at offset {} should be at {}", g.what,
             s.offset, expect);
    }
  }
}

std::uint64_t Scheduler::lower_bound(const Group& g) const {
  std::uint64_t lb = std::max(g.not_before, floor_);
  for (const Stage& s : g.stages) {
    lb = std::max(lb, at_least(-s.offset));
    if (book_.in_order(s.queue))
      lb = std::max(lb, at_least(static_cast<std::int64_t>(book_.queue_free(s.queue)) - s.offset));
    const int slice = floorplan_.queues()[s.queue].index;
    const std::int64_t delay = delay_of(s.instruction.opcode);
    const int width = s.instruction.width;
    switch (s.mem.kind) {
      case MemAccess::Kind::None: break;
      case MemAccess::Kind::Read:
      case MemAccess::Kind::Write:
        for (std::uint32_t i = 0; i < g.repeat; ++i)
          for (int w = 0; w < width; ++w) {
            const std::uint32_t a = s.mem.addr + i * s.mem.step + w * chip_.vectors_per_bank;
            const std::int64_t need =
                s.mem.kind == MemAccess::Kind::Read
                    ? static_cast<std::int64_t>(book_.visible_from(slice, a)) - s.offset - i * g.stride
                    : static_cast<std::int64_t>(book_.write_allowed_from(slice, a)) - s.offset - i * g.stride -
                          delay;
            lb = std::max(lb, at_least(need));
          }
        break;
      case MemAccess::Kind::RegionRead:
      case MemAccess::Kind::RegionWrite:
        for (std::uint32_t a = s.mem.region_lo; a < s.mem.region_hi; ++a) {
          const std::int64_t need =
              s.mem.kind == MemAccess::Kind::RegionRead
                  ? static_cast<std::int64_t>(book_.visible_from(slice, a)) - s.offset
                  : static_cast<std::int64_t>(book_.write_allowed_from(slice, a)) - s.offset - delay;
          lb = std::max(lb, at_least(need));
        }
        break;
    }
  }
  return lb;
}

std::uint64_t Scheduler::ideal_lower_bound(const Group& g) const {
  std::uint64_t lb = g.ideal_not_before;
  for (const Stage& s : g.stages) {
    lb = std::max(lb, at_least(-s.offset));
    const int slice = floorplan_.queues()[s.queue].index;
    if (s.mem.kind == MemAccess::Kind::Read)
      for (std::uint32_t i = 0; i < g.repeat; ++i)
        for (int w = 0; w < s.instruction.width; ++w) {
          const std::uint32_t a = s.mem.addr + i * s.mem.step + w * chip_.vectors_per_bank;
          lb = std::max(lb, at_least(static_cast<std::int64_t>(book_.ideal_visible_from(slice, a)) -
                                     s.offset - std::int64_t{i} * g.stride));
        }
    if (s.mem.kind == MemAccess::Kind::RegionRead)
      for (std::uint32_t a = s.mem.region_lo; a < s.mem.region_hi; ++a)
        lb = std::max(lb, at_least(static_cast<std::int64_t>(book_.ideal_visible_from(slice, a)) - s.offset));
  }
  return lb;
}

// Books the group's writes and effects as if it ran at ideal anchor t.
void Scheduler::note_ideal(const Group& g, std::uint64_t t) {
  for (const Stage& s : g.stages) {
    const int slice = floorplan_.queues()[s.queue].index;
    const std::uint64_t delay = delay_of(s.instruction.opcode);
    const std::uint64_t issue = t + s.offset, last = issue + std::uint64_t{g.repeat - 1} * g.stride;
    if (s.mem.kind == MemAccess::Kind::Write)
      for (std::uint32_t i = 0; i < g.repeat; ++i)
        for (int w = 0; w < s.instruction.width; ++w)
          book_.note_ideal_write(slice, s.mem.addr + i * s.mem.step + w * chip_.vectors_per_bank,
                                 issue + i * g.stride + delay);
    if (s.mem.kind == MemAccess::Kind::RegionWrite)
      for (std::uint32_t a = s.mem.region_lo; a < s.mem.region_hi; ++a)
        book_.note_ideal_write(slice, a, last + delay);
    book_.note_ideal_effect(last + delay);
  }
}

// The bank-port cycles of one stage's iteration: (address whose bank is used, cycle).
template <typename F>
void for_each_bank_use(const Stage& s, std::uint64_t t, std::uint32_t repeat, std::uint16_t stride, int delay,
                       int vectors_per_bank, F&& f) {
  const std::uint64_t issue = t + s.offset;
  switch (s.mem.kind) {
    case MemAccess::Kind::None: return;
    case MemAccess::Kind::Read:
    case MemAccess::Kind::Write: {
      const std::uint64_t lag = s.mem.kind == MemAccess::Kind::Write ? delay : 0;
      for (std::uint32_t i = 0; i < repeat; ++i)
        for (int w = 0; w < s.instruction.width; ++w)
          f(s.mem.addr + i * s.mem.step + w * vectors_per_bank, issue + i * stride + lag);
      return;
    }
    case MemAccess::Kind::RegionRead:
    case MemAccess::Kind::RegionWrite: {
      // Any row of the table may be touched: every bank the table spans is taken.
      const std::uint64_t lag = s.mem.kind == MemAccess::Kind::RegionWrite ? delay : 0;
      const std::uint32_t first_bank = s.mem.region_lo / vectors_per_bank;
      const std::uint32_t last_bank = (s.mem.region_hi - 1) / vectors_per_bank;
      for (std::uint32_t i = 0; i < repeat; ++i)
        for (std::uint32_t b = first_bank; b <= last_bank; ++b) f(b * vectors_per_bank, issue + i * stride + lag);
      return;
    }
  }
}

bool Scheduler::banks_free(const Group& g, std::uint64_t t) const {
  // Against the book. A stage's own iterations issue in distinct cycles, and the two vectors of
  // a width-2 access (or the banks of a table) are distinct banks, so a stage never meets itself.
  bool ok = true;
  for (const Stage& s : g.stages) {
    if (s.mem.kind == MemAccess::Kind::None) continue;
    const int slice = floorplan_.queues()[s.queue].index;
    for_each_bank_use(s, t, g.repeat, g.stride, delay_of(s.instruction.opcode), chip_.vectors_per_bank,
                      [&](std::uint32_t addr, std::uint64_t cycle) {
                        if (ok && !book_.bank_free(slice, addr, cycle)) ok = false;
                      });
    if (!ok) return false;
  }
  // Within the group, only stages on one slice can meet.
  for (std::size_t i = 0; i < g.stages.size(); ++i) {
    const Stage& a = g.stages[i];
    if (a.mem.kind == MemAccess::Kind::None) continue;
    const int slice = floorplan_.queues()[a.queue].index;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> uses;  // (bank, cycle) of stage i, sorted
    for (std::size_t j = i + 1; j < g.stages.size(); ++j) {
      const Stage& b = g.stages[j];
      if (b.mem.kind == MemAccess::Kind::None || floorplan_.queues()[b.queue].index != slice) continue;
      if (uses.empty()) {
        for_each_bank_use(a, t, g.repeat, g.stride, delay_of(a.instruction.opcode), chip_.vectors_per_bank,
                          [&](std::uint32_t addr, std::uint64_t cycle) {
                            uses.emplace_back(addr / chip_.vectors_per_bank, cycle);
                          });
        std::sort(uses.begin(), uses.end());
      }
      for_each_bank_use(b, t, g.repeat, g.stride, delay_of(b.instruction.opcode), chip_.vectors_per_bank,
                        [&](std::uint32_t addr, std::uint64_t cycle) {
                          if (ok && std::binary_search(uses.begin(), uses.end(),
                                                       std::make_pair<std::uint64_t, std::uint64_t>(
                                                           addr / chip_.vectors_per_bank, std::uint64_t{cycle})))
                            ok = false;
                        });
      if (!ok) return false;
    }
  }
  return true;
}

bool Scheduler::queues_free(Group& g, std::uint64_t t, std::uint64_t* next) const {
  bool ok = true;
  *next = t + 1;
  for (Stage& s : g.stages) {
    const std::uint64_t first = t + s.offset;
    const std::uint64_t last = first + std::uint64_t{g.repeat - 1} * g.stride;
    // A stage whose span holds busy cycle c needs an anchor above c - offset.
    std::int64_t jump = -1;
    bool found = false;
    const int single[1] = {s.queue};
    const std::span<const int> choices =
        s.alternatives.empty() ? std::span<const int>(single) : std::span<const int>(s.alternatives);
    for (int q : choices) {
      const std::int64_t busy = book_.last_busy(q, first, last);
      if (busy < 0) {
        s.queue = q;
        found = true;
        break;
      }
      // The stage's first issue must move past the busy cycle, to the queue's next free one.
      const std::int64_t candidate =
          static_cast<std::int64_t>(book_.next_free(q, static_cast<std::uint64_t>(busy) + 1)) - s.offset;
      jump = jump < 0 ? candidate : std::min(jump, candidate);
    }
    if (!found) {
      ok = false;
      *next = std::max(*next, static_cast<std::uint64_t>(jump));
    }
  }
  return ok;
}

bool Scheduler::pick_streams(const Group& g, std::uint64_t t, std::vector<int>& base) const {
  base.assign(g.bundles.size(), -1);
  std::vector<Claim> claims;
  for (std::size_t b = 0; b < g.bundles.size(); ++b) {
    const auto& bundle = g.bundles[b];
    const int size = static_cast<int>(bundle.size());
    for (int first = 0; first + size <= chip_.streams_per_direction && base[b] < 0; ++first) {
      std::vector<Claim> mine;
      bool ok = true;
      for (int k = 0; k < size && ok; ++k) {
        const Link& l = g.links[bundle[k]];
        const Stage& p = g.stages[l.producer];
        const Direction dir = link_direction(g, l);
        const int from = position_of(p.queue);
        const int reach = link_reach(g, l);
        const std::uint64_t write = t + p.offset + delay_of(p.instruction.opcode);
        for (std::uint32_t i = 0; i < g.repeat && ok; ++i)
          ok = book_.stream_free(dir, first + k, write + i * g.stride, from, reach);
        Claim c{dir, first + k, Reservations::diagonal_key(dir, write, from),
                std::int64_t{g.repeat - 1} * g.stride + 1,
                std::min(from, reach), std::max(from, reach)};
        for (const Claim& other : claims) ok = ok && !overlaps(c, other);
        for (const Claim& other : mine) ok = ok && !overlaps(c, other);
        mine.push_back(c);
      }
      if (ok) {
        base[b] = first;
        claims.insert(claims.end(), mine.begin(), mine.end());
      }
    }
    if (base[b] < 0) return false;
  }
  return true;
}

void Scheduler::commit(Group& g, std::uint64_t t, const std::vector<int>& base) {
  ++groups_placed_;
  for (Stage& s : g.stages) {
    s.instruction.order = groups_placed_;
    s.instruction.cycle = t + s.offset;
    s.instruction.repeat = g.repeat;
    s.instruction.stride = g.stride;
  }
  for (std::size_t b = 0; b < g.bundles.size(); ++b)
    for (std::size_t k = 0; k < g.bundles[b].size(); ++k) {
      const Link& l = g.links[g.bundles[b][k]];
      const int index = base[b] + static_cast<int>(k);
      const Direction dir = link_direction(g, l);
      Stage& p = g.stages[l.producer];
      const int reach = link_reach(g, l);
      if (l.out_slot == 0) p.instruction.out = encode_stream({dir, static_cast<std::uint8_t>(index)});
      p.instruction.reach = static_cast<std::uint8_t>(reach);
      for (auto [c, slot] : l.consumers) {
        Instruction& in = g.stages[c].instruction;
        if (slot < 4 && (slot == 0 || opcode_info(in.opcode).width_scales_inputs == false))
          in.in[slot] = encode_stream({dir, static_cast<std::uint8_t>(index)});
      }
      const std::uint64_t write = t + p.offset + delay_of(p.instruction.opcode);
      for (std::uint32_t i = 0; i < g.repeat; ++i)
        book_.take_stream(dir, index, write + i * g.stride, position_of(p.queue), reach);
    }
  for (Stage& s : g.stages) {
    const int slice = floorplan_.queues()[s.queue].index;
    const int delay = delay_of(s.instruction.opcode);
    for_each_bank_use(s, t, g.repeat, g.stride, delay, chip_.vectors_per_bank,
                      [&](std::uint32_t addr, std::uint64_t cycle) { book_.take_bank(slice, addr, cycle); });
    const std::uint64_t issue = t + s.offset;
    const std::uint64_t last = issue + std::uint64_t{g.repeat - 1} * g.stride;
    switch (s.mem.kind) {
      case MemAccess::Kind::None: break;
      case MemAccess::Kind::Read:
      case MemAccess::Kind::Write:
        for (std::uint32_t i = 0; i < g.repeat; ++i)
          for (int w = 0; w < s.instruction.width; ++w) {
            const std::uint32_t a = s.mem.addr + i * s.mem.step + w * chip_.vectors_per_bank;
            if (s.mem.kind == MemAccess::Kind::Read) book_.note_read(slice, a, issue + i * g.stride);
            else book_.note_write(slice, a, issue + i * g.stride + delay);
          }
        break;
      case MemAccess::Kind::RegionRead:
        for (std::uint32_t a = s.mem.region_lo; a < s.mem.region_hi; ++a) book_.note_read(slice, a, last);
        break;
      case MemAccess::Kind::RegionWrite:
        for (std::uint32_t a = s.mem.region_lo; a < s.mem.region_hi; ++a)
          book_.note_write(slice, a, last + delay);
        break;
    }
    book_.occupy_queue(s.queue, issue, g.repeat, g.stride);
    book_.note_effect(last + delay);
    program_.queues[s.queue].push_back(s.instruction);
  }
}

std::uint64_t Scheduler::place(Group& g) {
  if (g.repeat == 0) fail("internal compiler error in {}: a group of 0 iterations", g.what);
  check_links(g);
  std::uint64_t t = lower_bound(g);
  std::vector<int> base;
  for (std::uint64_t tries = 0;; ++tries) {
    if (tries > kMaxSearch)
      fail("the scheduler found no free slot for {} within {} tries", g.what, kMaxSearch);
    std::uint64_t next = t + 1;
    if (queues_free(g, t, &next) && banks_free(g, t) && pick_streams(g, t, base)) break;
    t = next;
  }
  commit(g, t, base);
  ideal_anchor_ = std::min(ideal_lower_bound(g), t);
  note_ideal(g, ideal_anchor_);
  return t;
}

std::uint64_t Scheduler::finish() {
  for (auto& queue : program_.queues)
    std::stable_sort(queue.begin(), queue.end(),
                     [](const Instruction& a, const Instruction& b) { return a.cycle < b.cycle; });
  program_.dataflow_cycles =
      program_.instruction_count() == 0 ? 0 : book_.ideal_last_effect() + 1 + (chip_.superlanes - 1);
  return end_cycle();
}

std::uint64_t Scheduler::end_cycle() const {
  if (program_.instruction_count() == 0) return 0;
  return book_.last_effect() + 1 + (chip_.superlanes - 1);
}

}  // namespace lockstep::compiler
