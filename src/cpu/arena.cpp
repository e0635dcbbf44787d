#include "cpu/arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>

#include "core/error.h"

namespace lockstep::cpu {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_up(std::size_t value, std::size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// MemAvailable from /proc/meminfo in bytes, or 0 when it cannot be read.
std::size_t available_memory() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
  std::fclose(f);
  return static_cast<std::size_t>(kib) * 1024;
}

}  // namespace

std::size_t ArenaLayout::place(std::size_t bytes, std::size_t alignment) {
  const std::size_t offset = round_up(size_, alignment);
  size_ = offset + bytes;
  return offset;
}

Arena::Arena(std::size_t bytes) : size_(round_up(bytes == 0 ? 1 : bytes, kHugePage)) {
  // Every page is touched below: a block beyond the free memory would end in the OOM killer.
  const std::size_t available = available_memory();
  if (available != 0 && size_ > available)
    fail("the CPU backend needs {:.1f} GiB (packed weights, KV cache, activations) but only "
         "{:.1f} GiB of memory is available; use a smaller model, quantization or --ctx, or "
         "--target ref (which reads the weights from the file)",
         static_cast<double>(size_) / (1 << 30), static_cast<double>(available) / (1 << 30));
  // Over-map by one huge page so the block can start on a 2 MiB boundary.
  const std::size_t mapped = size_ + kHugePage;
  void* raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    fail("cannot reserve {:.1f} MiB for the CPU plan's arena (weights, KV cache, activations)",
         static_cast<double>(size_) / (1 << 20));
  auto* start = static_cast<std::uint8_t*>(raw);
  base_ = reinterpret_cast<std::uint8_t*>(
      round_up(reinterpret_cast<std::uintptr_t>(start), kHugePage));
  // Give back the unaligned head and the tail beyond the block.
  if (base_ > start) munmap(start, static_cast<std::size_t>(base_ - start));
  const std::uint8_t* end = start + mapped;
  if (base_ + size_ < end) munmap(base_ + size_, static_cast<std::size_t>(end - (base_ + size_)));
  madvise(base_, size_, MADV_HUGEPAGE);  // a hint: fewer TLB misses when streaming weights
  const long page = sysconf(_SC_PAGESIZE);
  for (std::size_t i = 0; i < size_; i += static_cast<std::size_t>(page))
    base_[i] = 0;  // prefault: the decode loop must never take a page fault
}

Arena::~Arena() {
  if (base_) munmap(base_, size_);
}

}  // namespace lockstep::cpu
