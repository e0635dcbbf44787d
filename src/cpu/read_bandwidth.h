// This machine's streaming read bandwidth: the figure a memory-bound decode step is measured
// against (the roofline of `lockstep bench`). N threads, pinned one per core where the OS lets
// us, each stream their own slice of one buffer far larger than the last-level cache; the
// result is the median over several repetitions (the machine may be shared and noisy).
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/isa.h"

namespace lockstep::cpu {

struct ReadBandwidthOptions {
  int threads = 1;                  // >= 1
  std::uint64_t buffer_bytes = 0;   // 0: max(1 GiB, 4 x last-level cache); else >= 64 KiB
  int repetitions = 5;              // timed passes over the whole buffer (after one untimed)
  Isa isa = best_isa();             // load loop; must be supported
};

struct ReadBandwidth {
  double bytes_per_second = 0;      // median over the repetitions, B/s
  std::vector<double> samples;      // [repetitions] B/s, in the order measured
  std::uint64_t buffer_bytes = 0;   // bytes streamed per repetition
  int threads = 0;
  // Median over repetitions of the threads' CPU time / (threads x wall time): near 1 on an idle
  // machine; well below 1 means other processes had the cores and the figure is low.
  double cpu_share = 0;
  // Median over repetitions of the sum over threads of slice bytes / that thread's CPU time, B/s:
  // what the threads streamed while they actually ran. An estimate of the idle machine's figure
  // when cpu_share is low (other tenants' memory traffic still counts against it).
  double scheduled_bytes_per_second = 0;
  bool pinned = false;              // every thread was pinned to a core of its own
  bool huge_pages = false;          // madvise(MADV_HUGEPAGE) was accepted
  Isa isa = Isa::Portable;
};

// Allocates (mmap, transparent huge pages asked for), prefaults from the threads that will read
// each slice, then times the passes. Throws lockstep::Error on bad options or when the memory
// cannot be had.
ReadBandwidth measure_read_bandwidth(const ReadBandwidthOptions& options);

// Size in bytes of the highest-level cache of cpu0 (/sys/devices/system/cpu/cpu0/cache), or 0
// when the system does not say.
std::uint64_t last_level_cache_bytes();

// The default buffer: max(1 GiB, 4 x last_level_cache_bytes()), rounded up to 2 MiB.
std::uint64_t default_read_buffer_bytes();


}  // namespace lockstep::cpu
