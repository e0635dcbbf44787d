// The read-bandwidth measurement on a small buffer: every ISA level this machine runs gives a
// positive, finite figure, and bad options are refused. Nothing here asserts on speed.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "cpu/read_bandwidth.h"
#include "cpu/thread_team.h"
#include "cpu/read_bandwidth_kernels.h"

namespace lockstep::cpu {
namespace {

TEST(ReadBandwidth, SmallBufferGivesAPositiveFiniteFigureOnEveryIsa) {
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int threads : {1, 2}) {
      ReadBandwidthOptions o;
      o.threads = threads;
      o.buffer_bytes = 4ull << 20;
      o.repetitions = 3;
      o.isa = isa;
      const auto r = measure_read_bandwidth(o);
      EXPECT_GT(r.bytes_per_second, 0) << isa_name(isa);
      EXPECT_TRUE(std::isfinite(r.bytes_per_second)) << isa_name(isa);
      EXPECT_EQ(r.samples.size(), 3u);
      EXPECT_GE(r.buffer_bytes, o.buffer_bytes);
      EXPECT_EQ(r.threads, threads);
      EXPECT_GT(r.cpu_share, 0) << isa_name(isa);
      EXPECT_GT(r.scheduled_bytes_per_second, 0) << isa_name(isa);
    }
  }
}

TEST(ReadBandwidth, KernelsFoldEveryWordTheSameWay) {
  alignas(64) static std::uint64_t words[256];  // 2 KiB: four 512-byte blocks
  for (std::size_t i = 0; i < 256; ++i) words[i] = 0x9e3779b97f4a7c15ull * (i + 1);
  std::uint64_t expected = 0;
  for (auto w : words) expected ^= w;
  EXPECT_EQ(kernels::read_stream_portable(words, sizeof words), expected);
  if (isa_supported(Isa::Avx2)) {
    EXPECT_EQ(kernels::read_stream_avx2(words, sizeof words), expected);
  }
  if (isa_supported(Isa::Avx512)) {
    EXPECT_EQ(kernels::read_stream_avx512(words, sizeof words), expected);
  }
}

TEST(ReadBandwidth, DefaultBufferIsBeyondTheLastLevelCache) {
  EXPECT_GE(default_read_buffer_bytes(), 1ull << 30);
  EXPECT_GE(default_read_buffer_bytes(), 4 * last_level_cache_bytes());
  EXPECT_GE(available_cores().size(), 1u);
}

TEST(ReadBandwidth, BadOptionsAreRefused) {
  ReadBandwidthOptions o;
  o.buffer_bytes = 4ull << 20;
  o.threads = 0;
  EXPECT_THROW(measure_read_bandwidth(o), Error);
  o.threads = 1;
  o.repetitions = 0;
  EXPECT_THROW(measure_read_bandwidth(o), Error);
  o.repetitions = 1;
  o.buffer_bytes = 100;
  EXPECT_THROW(measure_read_bandwidth(o), Error);
}

}  // namespace
}  // namespace lockstep::cpu
