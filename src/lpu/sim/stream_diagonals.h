// Which vectors are on the streams: the simulator's record of stream writes as diagonals.
//
// A vector written on an eastward stream at (position p, cycle c) is at (p + h, c + h) for every
// hop h up to its reach: it occupies the diagonal key = c - p over the positions [p, reach].
// Westward: key = c + p over [reach, p]. A reader at (q, c') finds the vector on key c' - q
// (east) or c' + q (west) if some write's segment on that key contains q. Two writes on one
// stream and key with overlapping segments would hold the same register at the same cycle: a
// conflict.
//
// Storage is a ring of `window` keys per stream (a power of two larger than positions + the
// largest delay, so that every key still readable and every key still writable fit without
// aliasing, when the caller executes iterations in nondecreasing issue cycle). A slot (16 bytes)
// holds the key it describes and up to three segments; a slot holding another key is stale and
// empty. Further segments on one key go to a side table, so any number of disjoint writes can
// share a diagonal. In functional mode each segment carries its vector in a pool. Who wrote a
// segment is not kept: the caller can work it out from the program when it needs to say so.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <vector>

namespace lockstep::lpu {

class StreamDiagonals {
 public:
  // A segment found on a diagonal: positions [lo, hi] and, in functional mode, its vector.
  struct Found {
    bool present = false;
    std::uint8_t lo = 0, hi = 0;
    std::uint32_t payload = 0;
    explicit operator bool() const { return present; }
  };

  // streams: flat stream count; window: keys kept per stream (power of two);
  // vector_bytes > 0 keeps payloads (functional mode), 0 keeps none (timing mode).
  StreamDiagonals(int streams, int window, int vector_bytes)
      : mask_(static_cast<std::uint32_t>(window) - 1),
        shift_(log2(streams)),
        vector_bytes_(vector_bytes),
        slots_(static_cast<std::size_t>(window) << shift_) {
    if (vector_bytes > 0) payloads_.assign(slots_.size() * kInline, 0);
  }

  // Records a write; returns false (nothing recorded) if it overlaps a write already on the
  // diagonal. kPayloads: functional mode (the object was made with vector_bytes > 0); payload is
  // then vector_bytes bytes, else ignored.
  template <bool kPayloads>
  [[gnu::always_inline]] bool write(int stream, std::int64_t key, std::uint8_t lo, std::uint8_t hi,
                                    const std::uint8_t* payload) {
    const std::size_t index = slot_index(stream, key);
    Slot& slot = slots_[index];
    if (slot.key != key) {
      if (kPayloads || slot.count > kInline) release(index);
      slot.key = key;
      slot.count = 0;
    } else if (overlaps(index, lo, hi)) {
      return false;
    }
    if (slot.count < kInline) {
      slot.span[slot.count] = pack(lo, hi);
      if constexpr (kPayloads) payloads_[index * kInline + slot.count] = store(payload);
    } else {
      spill(index, lo, hi, payload);
    }
    ++slot.count;
    return true;
  }

  // The write whose vector is at `position` on `key`, if any. kPayloads: as for write().
  template <bool kPayloads>
  [[gnu::always_inline]] Found find(int stream, std::int64_t key, int position) const {
    const std::size_t index = slot_index(stream, key);
    const Slot& slot = slots_[index];
    if (slot.key != key) return {};
    const int n = slot.count < kInline ? slot.count : kInline;
    for (int i = 0; i < n; ++i) {
      const int lo = slot.span[i] & 0xff, hi = slot.span[i] >> 8;
      if (lo <= position && position <= hi)
        return {true, static_cast<std::uint8_t>(lo), static_cast<std::uint8_t>(hi),
                kPayloads ? payloads_[index * kInline + i] : 0u};
    }
    if (slot.count > kInline) return find_spilled(index, position);
    return {};
  }

  // Functional mode: the vector of a found segment (valid until the next write).
  const std::uint8_t* payload(const Found& found) const {
    return pool_.data() + static_cast<std::size_t>(found.payload) * vector_bytes_;
  }

 private:
  static constexpr int kInline = 3;

  // 16-bit fields, not bytes: stores through a char type would let the compiler assume they
  // alias anything, and reload every member after each write.
  struct Slot {
    std::int64_t key = std::numeric_limits<std::int64_t>::min();
    std::uint16_t count = 0;           // segments on the key; beyond kInline in spills_
    std::uint16_t span[kInline] = {};  // segment i: lo | hi << 8
  };
  static_assert(sizeof(Slot) == 16);

  static std::uint16_t pack(std::uint8_t lo, std::uint8_t hi) {
    return static_cast<std::uint16_t>(lo | (hi << 8));
  }

  struct Spilled {
    std::uint8_t lo, hi;
    std::uint32_t payload;
  };

  static int log2(int n) {
    int s = 0;
    while ((1 << s) < n) ++s;
    return s;
  }

  [[gnu::always_inline]] std::size_t slot_index(int stream, std::int64_t key) const {
    return (static_cast<std::size_t>(static_cast<std::uint32_t>(key) & mask_) << shift_) +
           static_cast<std::size_t>(stream);
  }

  bool overlaps(std::size_t index, std::uint8_t lo, std::uint8_t hi) const {
    const Slot& slot = slots_[index];
    const int n = slot.count < kInline ? slot.count : kInline;
    for (int i = 0; i < n; ++i)
      if ((slot.span[i] & 0xff) <= hi && lo <= (slot.span[i] >> 8)) return true;
    if (slot.count > kInline)
      for (const Spilled& s : spills_.at(index))
        if (s.lo <= hi && lo <= s.hi) return true;
    return false;
  }

  [[gnu::noinline]] Found find_spilled(std::size_t index, int position) const {
    for (const Spilled& s : spills_.at(index))
      if (s.lo <= position && position <= s.hi) return {true, s.lo, s.hi, s.payload};
    return {};
  }

  [[gnu::noinline]] void spill(std::size_t index, std::uint8_t lo, std::uint8_t hi,
                               const std::uint8_t* payload) {
    spills_[index].push_back({lo, hi, vector_bytes_ > 0 ? store(payload) : 0u});
  }

  // Empties a stale slot, returning its payloads to the pool.
  [[gnu::noinline]] void release(std::size_t index) {
    const Slot& slot = slots_[index];
    if (vector_bytes_ > 0) {
      const int n = slot.count < kInline ? slot.count : kInline;
      for (int i = 0; i < n; ++i) free_.push_back(payloads_[index * kInline + i]);
    }
    if (slot.count > kInline) {
      auto it = spills_.find(index);
      if (vector_bytes_ > 0)
        for (const Spilled& s : it->second) free_.push_back(s.payload);
      spills_.erase(it);
    }
  }

  std::uint32_t store(const std::uint8_t* payload) {
    std::uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<std::uint32_t>(pool_.size() / vector_bytes_);
      pool_.resize(pool_.size() + vector_bytes_);
    }
    std::memcpy(pool_.data() + static_cast<std::size_t>(index) * vector_bytes_, payload,
                vector_bytes_);
    return index;
  }

  std::uint32_t mask_;  // window - 1 (32-bit: a different type from the int64 keys stored)
  int shift_;           // log2(streams), rounded up: slots are [key mod window][stream], so the
                        // streams one instruction reads or writes together share cache lines
  int vector_bytes_;
  std::vector<Slot> slots_;                                       // [window][1 << shift_]
  std::unordered_map<std::size_t, std::vector<Spilled>> spills_;  // slot -> segments 4, 5, ...
  std::vector<std::uint32_t> payloads_;  // functional: [slot][kInline] pool index
  std::vector<std::uint8_t> pool_;       // functional: [vectors][vector_bytes]
  std::vector<std::uint32_t> free_;      // pool indices free for reuse
};

}  // namespace lockstep::lpu
