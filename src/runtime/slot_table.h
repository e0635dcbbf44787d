// The prompt cache: which tokens each of the backend's KV-cache slots holds, which slots a
// running sequence owns, and which idle slot a new prompt should take. A slot keeps its tokens
// after its sequence ends, so a later prompt that starts the same way (a shared system prompt,
// the next turn of a chat) skips those positions. Eviction is least-recently-used: a prompt that
// would keep fewer than 8 and under half of every idle slot's tokens takes the slot idle the
// longest.
//
// Not thread-safe: the engine's thread owns it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lockstep::runtime {

struct SlotGrant {
  int slot = -1;               // the slot the sequence now owns
  std::int64_t reused = 0;     // prompt positions whose keys/values are already valid there
  int copy_from = -1;          // >= 0: first copy positions [0, reused) from this busy slot
};

class SlotTable {
 public:
  explicit SlotTable(int slots);

  int size() const { return static_cast<int>(slots_.size()); }
  int idle() const;

  // Takes an idle slot for `prompt` (at least one token), or returns slot -1 when none is idle.
  // Prefers the idle slot with the longest common prefix that keeps at least 8 or half of its
  // tokens (ties: least recently used), else the least recently used idle slot; when a busy slot shares
  // a longer prefix, the grant says to copy it. `reused` stays below the
  // prompt's length: the last prompt token always runs, for its logits.
  SlotGrant acquire(std::span<const std::int32_t> prompt);

  // The tokens slot `slot` now holds at positions [0, n) (after a step wrote some; earlier ones
  // unchanged): appends `tokens` at position `pos`, dropping what the slot held from pos on.
  void write(int slot, std::int64_t pos, std::span<const std::int32_t> tokens);

  // The sequence is done; its tokens stay cached.
  void release(int slot);

  std::span<const std::int32_t> tokens(int slot) const;
  bool busy(int slot) const;

 private:
  struct Slot {
    std::vector<std::int32_t> tokens;  // what positions [0, size) hold
    bool busy = false;
    std::uint64_t last_used = 0;       // tick of the last acquire or release
  };
  std::vector<Slot> slots_;
  std::uint64_t tick_ = 0;
};

// Length of the common prefix of a and b.
std::int64_t common_prefix(std::span<const std::int32_t> a, std::span<const std::int32_t> b);

}  // namespace lockstep::runtime
