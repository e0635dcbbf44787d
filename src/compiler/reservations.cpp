#include "compiler/reservations.h"

#include <algorithm>
#include <bit>
#include <cstdlib>

#include "core/error.h"

namespace lockstep::compiler {

ChunkedBits::ChunkedBits(int slots_per_key) : words_per_key_((slots_per_key + 63) / 64) {}

const std::uint64_t* ChunkedBits::word(std::int64_t key, int slot) const {
  if (key < 0) return nullptr;
  const std::size_t chunk = static_cast<std::size_t>(key / kChunkKeys);
  if (chunk >= chunks_.size() || !chunks_[chunk]) return nullptr;
  return &chunks_[chunk][(key % kChunkKeys) * words_per_key_ + slot / 64];
}

std::uint64_t* ChunkedBits::word_for_write(std::int64_t key, int slot) {
  if (key < 0) fail("internal compiler error: a reservation before cycle 0");
  const std::size_t chunk = static_cast<std::size_t>(key / kChunkKeys);
  if (chunk >= chunks_.size()) chunks_.resize(chunk + 1);
  if (!chunks_[chunk]) {
    chunks_[chunk] = std::make_unique<std::uint64_t[]>(kChunkKeys * words_per_key_);
    std::fill_n(chunks_[chunk].get(), kChunkKeys * words_per_key_, 0);
  }
  return &chunks_[chunk][(key % kChunkKeys) * words_per_key_ + slot / 64];
}


namespace {

// Bits [lo, hi] of word w (w * 64 .. w * 64 + 63), as a mask.
std::uint64_t span_mask(int w, int lo, int hi) {
  const int a = std::max(lo - w * 64, 0), b = std::min(hi - w * 64, 63);
  if (a > b) return 0;
  const std::uint64_t upper = b == 63 ? ~0ull : ((1ull << (b + 1)) - 1);
  return upper & ~((1ull << a) - 1);
}

}  // namespace

bool ChunkedBits::any(std::int64_t key, int lo, int hi) const {
  for (int w = lo / 64; w <= hi / 64; ++w) {
    const std::uint64_t* word_ptr = word(key, w * 64);
    if (word_ptr && (*word_ptr & span_mask(w, lo, hi))) return true;
  }
  return false;
}

void ChunkedBits::set_range(std::int64_t key, int lo, int hi) {
  for (int w = lo / 64; w <= hi / 64; ++w) *word_for_write(key, w * 64) |= span_mask(w, lo, hi);
}

std::int64_t CycleBits::last_set(std::uint64_t first, std::uint64_t last) const {
  if (words_.empty() || first > last) return -1;
  last = std::min<std::uint64_t>(last, words_.size() * 64 - 1);
  if (first > last) return -1;
  for (std::uint64_t w = last / 64 + 1; w-- > first / 64;) {
    const int lo = static_cast<int>(std::max(first, w * 64) - w * 64);
    const int hi = static_cast<int>(std::min(last, w * 64 + 63) - w * 64);
    const std::uint64_t bits = words_[w] & span_mask(0, lo, hi);
    if (bits) return static_cast<std::int64_t>(w * 64 + 63 - std::countl_zero(bits));
  }
  return -1;
}

std::uint64_t CycleBits::next_clear(std::uint64_t from) const {
  for (std::uint64_t w = from / 64; w < words_.size(); ++w) {
    const std::uint64_t clear = ~words_[w] & (w == from / 64 ? ~0ull << (from % 64) : ~0ull);
    if (clear) return w * 64 + std::countr_zero(clear);
  }
  return std::max<std::uint64_t>(from, words_.size() * 64);
}

void CycleBits::set_span(std::uint64_t first, std::uint64_t last) {
  if (last / 64 >= words_.size()) words_.resize(std::max<std::size_t>(last / 64 + 1, words_.size() * 2), 0);
  for (std::uint64_t w = first / 64; w <= last / 64; ++w) {
    const int lo = static_cast<int>(std::max(first, w * 64) - w * 64);
    const int hi = static_cast<int>(std::min(last, w * 64 + 63) - w * 64);
    words_[w] |= span_mask(0, lo, hi);
  }
}

Reservations::Reservations(const ChipConfig& chip, const Floorplan& floorplan)
    : chip_(chip),
      slice_vectors_(chip.banks_per_slice * chip.vectors_per_bank),
      queue_free_(floorplan.queue_count(), 0),
      visible_(static_cast<std::size_t>(floorplan.mem_slices()) * slice_vectors_, 0),
      last_read_(visible_.size(), -1),
      ideal_visible_(visible_.size(), 0) {
  bank_busy_.resize(static_cast<std::size_t>(floorplan.mem_slices() * chip.banks_per_slice));
  for (const QueueInfo& q : floorplan.queues())
    in_order_.push_back(q.unit == Unit::MxmLoad || q.unit == Unit::MxmCompute || q.unit == Unit::MxmEmit);
  queue_busy_.resize(floorplan.queues().size());
  for (int i = 0; i < 2 * chip.streams_per_direction; ++i) stream_busy_.emplace_back(floorplan.positions());
}

bool Reservations::queue_span_free(int q, std::uint64_t first, std::uint64_t last) const {
  return last_busy(q, first, last) < 0;
}

std::int64_t Reservations::last_busy(int q, std::uint64_t first, std::uint64_t last) const {
  if (in_order_[q])
    return first >= queue_free_[q] ? -1 : static_cast<std::int64_t>(std::min(last, queue_free_[q] - 1));
  return queue_busy_[q].last_set(first, last);
}

std::uint64_t Reservations::next_free(int q, std::uint64_t from) const {
  if (in_order_[q]) return std::max(from, queue_free_[q]);
  return queue_busy_[q].next_clear(from);
}

void Reservations::occupy_queue(int q, std::uint64_t first, std::uint32_t repeat,
                                std::uint16_t stride) {
  const std::uint64_t last = first + std::uint64_t{repeat - 1} * stride;
  if (!queue_span_free(q, first, last))
    fail("internal compiler error: queue {} booked twice at cycle {}", q, first);
  if (in_order_[q]) queue_free_[q] = last + 1;
  else
    queue_busy_[q].set_span(first, last);
  queue_free_[q] = std::max(queue_free_[q], last + 1);
}

bool Reservations::bank_free(int slice, std::uint32_t addr, std::uint64_t cycle) const {
  const int bank = static_cast<int>(addr / chip_.vectors_per_bank);
  return !bank_busy_[slice * chip_.banks_per_slice + bank].test(cycle);
}

void Reservations::take_bank(int slice, std::uint32_t addr, std::uint64_t cycle) {
  const int bank = static_cast<int>(addr / chip_.vectors_per_bank);
  bank_busy_[slice * chip_.banks_per_slice + bank].set(cycle);
}

bool Reservations::stream_free(Direction d, int index, std::uint64_t cycle, int from,
                               int reach) const {
  const auto& bits = stream_busy_[static_cast<int>(d) * chip_.streams_per_direction + index];
  return !bits.any(diagonal_key(d, cycle, from), std::min(from, reach), std::max(from, reach));
}

void Reservations::take_stream(Direction d, int index, std::uint64_t cycle, int from, int reach) {
  auto& bits = stream_busy_[static_cast<int>(d) * chip_.streams_per_direction + index];
  bits.set_range(diagonal_key(d, cycle, from), std::min(from, reach), std::max(from, reach));
}

std::uint64_t Reservations::visible_from(int slice, std::uint32_t addr) const {
  return visible_[static_cast<std::size_t>(slice) * slice_vectors_ + addr];
}

void Reservations::note_read(int slice, std::uint32_t addr, std::uint64_t cycle) {
  auto& r = last_read_[static_cast<std::size_t>(slice) * slice_vectors_ + addr];
  r = std::max(r, static_cast<std::int64_t>(cycle));
}

std::uint64_t Reservations::write_allowed_from(int slice, std::uint32_t addr) const {
  const std::size_t i = static_cast<std::size_t>(slice) * slice_vectors_ + addr;
  const std::uint64_t after_read = static_cast<std::uint64_t>(last_read_[i] + 1);
  return std::max(after_read, visible_[i]);
}

void Reservations::note_write(int slice, std::uint32_t addr, std::uint64_t commit_cycle) {
  visible_[static_cast<std::size_t>(slice) * slice_vectors_ + addr] = commit_cycle + 1;
}

}  // namespace lockstep::compiler
