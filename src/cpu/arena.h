// The one block of memory a CPU plan runs in: packed weights, the KV cache, activations and
// per-thread scratch, each at an offset fixed when the plan is built. Allocated once with
// mmap (2 MiB-aligned, transparent huge pages requested) and touched page by page, so the
// decode loop never page-faults or allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockstep::cpu {

// Hands out offsets while a plan is laid out; nothing is allocated.
class ArenaLayout {
 public:
  // Reserves `bytes` at an `alignment`-aligned offset (a power of two) and returns the offset.
  std::size_t place(std::size_t bytes, std::size_t alignment = 64);
  std::size_t size() const { return size_; }

 private:
  std::size_t size_ = 0;
};

class Arena {
 public:
  // Maps and prefaults `bytes` (rounded up to 2 MiB), zero-filled. Throws lockstep::Error with
  // the size when the memory cannot be had.
  explicit Arena(std::size_t bytes);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  std::uint8_t* at(std::size_t offset) const { return base_ + offset; }
  std::size_t size() const { return size_; }

 private:
  std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace lockstep::cpu
