#include "runtime/slot_table.h"

#include <algorithm>

#include "core/error.h"

namespace lockstep::runtime {

std::int64_t common_prefix(std::span<const std::int32_t> a, std::span<const std::int32_t> b) {
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return ia - a.begin();
}

SlotTable::SlotTable(int slots) : slots_(static_cast<std::size_t>(std::max(slots, 1))) {}

int SlotTable::idle() const {
  return static_cast<int>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.busy; }));
}

SlotGrant SlotTable::acquire(std::span<const std::int32_t> prompt) {
  if (prompt.empty()) fail("a sequence needs at least one prompt token");
  const std::int64_t limit = static_cast<std::int64_t>(prompt.size()) - 1;
  // An idle slot is worth reusing when the prompt keeps at least 8 of its tokens or half of
  // them (a shared BOS or a common first word is not worth losing a cached conversation for);
  // otherwise the least recently used idle slot is overwritten (keeping any prefix it shares).
  int reuse = -1, oldest = -1, busy = -1;
  std::int64_t reuse_match = 0, busy_match = 0;
  for (int i = 0; i < size(); ++i) {
    const Slot& s = slots_[static_cast<std::size_t>(i)];
    const std::int64_t match = std::min(common_prefix(s.tokens, prompt), limit);
    if (s.busy) {
      if (match > busy_match) busy = i, busy_match = match;
      continue;
    }
    if (oldest < 0 || s.last_used < slots_[static_cast<std::size_t>(oldest)].last_used) oldest = i;
    const bool worth = match > 0 && (match >= 8 || 2 * match >= static_cast<std::int64_t>(s.tokens.size()));
    if (worth && (match > reuse_match ||
                  (match == reuse_match && s.last_used < slots_[static_cast<std::size_t>(reuse)].last_used)))
      reuse = i, reuse_match = match;
  }
  if (oldest < 0) return {};
  const int chosen = reuse >= 0 ? reuse : oldest;
  Slot& slot = slots_[static_cast<std::size_t>(chosen)];
  const std::int64_t match = std::min(common_prefix(slot.tokens, prompt), limit);
  slot.busy = true;
  slot.last_used = ++tick_;
  SlotGrant grant{chosen, match, -1};
  if (busy >= 0 && busy_match > match) {
    grant.reused = busy_match;
    grant.copy_from = busy;
    slot.tokens.assign(prompt.begin(), prompt.begin() + busy_match);
  } else {
    slot.tokens.resize(static_cast<std::size_t>(match));
  }
  return grant;
}

void SlotTable::write(int slot, std::int64_t pos, std::span<const std::int32_t> tokens) {
  auto& held = slots_.at(static_cast<std::size_t>(slot)).tokens;
  if (pos > static_cast<std::int64_t>(held.size()))
    fail("slot {} holds {} positions; cannot write at {}", slot, held.size(), pos);
  held.resize(static_cast<std::size_t>(pos));
  held.insert(held.end(), tokens.begin(), tokens.end());
}

void SlotTable::release(int slot) {
  Slot& s = slots_.at(static_cast<std::size_t>(slot));
  s.busy = false;
  s.last_used = ++tick_;
}

std::span<const std::int32_t> SlotTable::tokens(int slot) const {
  return slots_.at(static_cast<std::size_t>(slot)).tokens;
}

bool SlotTable::busy(int slot) const { return slots_.at(static_cast<std::size_t>(slot)).busy; }

}  // namespace lockstep::runtime
