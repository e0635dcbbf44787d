#include "cpu/read_bandwidth.h"

#include "cpu/thread_team.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/error.h"
#include "cpu/read_bandwidth_kernels.h"

namespace lockstep::cpu {

namespace kernels {

// Eight independent 64-bit XOR chains, one word of each 64-byte line each, kept in registers
// (an array here made GCC keep them in memory: one store-forwarding chain per line).
std::uint64_t read_stream_portable(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const std::uint64_t*>(data);
  const std::size_t words = bytes / 8;
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  for (std::size_t i = 0; i < words; i += 8) {
    a0 ^= p[i + 0];
    a1 ^= p[i + 1];
    a2 ^= p[i + 2];
    a3 ^= p[i + 3];
    a4 ^= p[i + 4];
    a5 ^= p[i + 5];
    a6 ^= p[i + 6];
    a7 ^= p[i + 7];
  }
  return a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7;
}

}  // namespace kernels

namespace {

constexpr std::uint64_t kHugePage = 2ull << 20;  // x86-64 transparent huge page, bytes
constexpr std::uint64_t kMinBuffer = 64ull << 10;

// Receives the XOR of everything read, so that no read is dead code.
std::atomic<std::uint64_t> g_read_sink{0};

std::uint64_t round_up(std::uint64_t n, std::uint64_t to) { return (n + to - 1) / to * to; }

// "266240K", "2048K", "32M" -> bytes.
std::uint64_t parse_cache_size(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return 0;
  std::uint64_t scale = 1;
  switch (text.back()) {
    case 'K': scale = 1ull << 10; text.pop_back(); break;
    case 'M': scale = 1ull << 20; text.pop_back(); break;
    case 'G': scale = 1ull << 30; text.pop_back(); break;
    default: break;
  }
  try {
    return std::stoull(text) * scale;
  } catch (const std::exception&) {
    return 0;
  }
}

std::string read_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

using Kernel = std::uint64_t (*)(const void*, std::size_t);

Kernel kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return kernels::read_stream_avx512;
    case Isa::Avx2: return kernels::read_stream_avx2;
    case Isa::Portable: break;
  }
  return kernels::read_stream_portable;
}

// An anonymous mapping aligned to 2 MiB, unmapped on destruction.
class Mapping {
 public:
  explicit Mapping(std::uint64_t bytes) : bytes_(bytes) {
    raw_bytes_ = bytes + kHugePage;
    raw_ = mmap(nullptr, raw_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw_ == MAP_FAILED)
      fail("cannot map {} MiB for the read-bandwidth buffer: {}", raw_bytes_ >> 20,
           std::strerror(errno));
    const auto at = round_up(reinterpret_cast<std::uintptr_t>(raw_), kHugePage);
    data_ = reinterpret_cast<std::byte*>(at);
    huge_pages_ = madvise(data_, bytes_, MADV_HUGEPAGE) == 0;
  }
  ~Mapping() { munmap(raw_, raw_bytes_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  std::byte* data() const { return data_; }
  bool huge_pages() const { return huge_pages_; }

 private:
  std::uint64_t bytes_ = 0, raw_bytes_ = 0;
  void* raw_ = nullptr;
  std::byte* data_ = nullptr;
  bool huge_pages_ = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

std::uint64_t last_level_cache_bytes() {
  const std::filesystem::path root = "/sys/devices/system/cpu/cpu0/cache";
  std::error_code ec;
  int best_level = 0;
  std::uint64_t best = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (!entry.path().filename().string().starts_with("index")) continue;
    const std::string type = read_line(entry.path() / "type");
    if (type == "Instruction") continue;
    int level = 0;
    try {
      level = std::stoi(read_line(entry.path() / "level"));
    } catch (const std::exception&) {
      continue;
    }
    const std::uint64_t size = parse_cache_size(read_line(entry.path() / "size"));
    if (level > best_level || (level == best_level && size > best)) {
      best_level = level;
      best = size;
    }
  }
  return best;
}

std::uint64_t default_read_buffer_bytes() {
  return round_up(std::max<std::uint64_t>(1ull << 30, 4 * last_level_cache_bytes()), kHugePage);
}

ReadBandwidth measure_read_bandwidth(const ReadBandwidthOptions& o) {
  if (o.threads < 1) fail("the read-bandwidth measurement needs at least 1 thread, got {}", o.threads);
  if (o.repetitions < 1)
    fail("the read-bandwidth measurement needs at least 1 repetition, got {}", o.repetitions);
  if (o.buffer_bytes != 0 && o.buffer_bytes < kMinBuffer)
    fail("a read-bandwidth buffer of {} bytes is too small (at least {} bytes)", o.buffer_bytes,
         kMinBuffer);
  if (!isa_supported(o.isa)) fail("this processor cannot run the {} read loop", isa_name(o.isa));

  // Every thread's slice is a whole number of 512-byte blocks (the kernels' unit).
  const std::uint64_t slice_unit = 512 * static_cast<std::uint64_t>(o.threads);
  const std::uint64_t requested = o.buffer_bytes != 0 ? o.buffer_bytes : default_read_buffer_bytes();
  const std::uint64_t bytes = round_up(requested, slice_unit);
  const std::uint64_t slice = bytes / static_cast<std::uint64_t>(o.threads);
  Mapping buffer(bytes);
  const Kernel kernel = kernel_for(o.isa);

  ReadBandwidth result;
  result.buffer_bytes = bytes;
  result.threads = o.threads;
  result.huge_pages = buffer.huge_pages();
  result.isa = o.isa;

  // Main thread plus workers meet at the barrier before and after every pass; pass 0 prefaults
  // (each thread writes its own slice: the pages land near the core that reads them), pass 1 is
  // an untimed warm-up read, the rest are timed.
  const int passes = 2 + o.repetitions;
  std::barrier sync(o.threads + 1);
  std::atomic<std::uint64_t> sink{0};
  std::vector<double> cpu_seconds(static_cast<std::size_t>(o.threads));  // [threads] s, last pass
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(o.threads));
  for (int t = 0; t < o.threads; ++t) {
    workers.emplace_back([&, t] {
      std::byte* mine = buffer.data() + slice * static_cast<std::uint64_t>(t);
      std::uint64_t folded = 0;
      for (int pass = 0; pass < passes; ++pass) {
        sync.arrive_and_wait();
        const double cpu_start = thread_cpu_seconds();
        if (pass == 0) std::memset(mine, 0x5a + t, slice);
        else folded ^= kernel(mine, slice);
        cpu_seconds[static_cast<std::size_t>(t)] = thread_cpu_seconds() - cpu_start;
        sync.arrive_and_wait();
      }
      sink.fetch_xor(folded, std::memory_order_relaxed);
    });
  }
  const auto cpus = available_cores();
  result.pinned = static_cast<int>(cpus.size()) >= o.threads;
  for (int t = 0; t < o.threads && result.pinned; ++t) result.pinned = pin_thread(workers[t].native_handle(), cpus[t]);

  std::vector<double> shares, scheduled;
  for (int pass = 0; pass < passes; ++pass) {
    sync.arrive_and_wait();
    const auto start = std::chrono::steady_clock::now();
    sync.arrive_and_wait();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (pass < 2) continue;
    result.samples.push_back(static_cast<double>(bytes) / took.count());
    double cpu = 0, rate = 0;
    for (double c : cpu_seconds) {
      cpu += c;
      rate += static_cast<double>(slice) / std::max(c, 1e-9);
    }
    scheduled.push_back(rate);
    shares.push_back(cpu / (o.threads * took.count()));
  }
  for (auto& w : workers) w.join();
  // Published where the compiler cannot prove it unused: the reads cannot be elided.
  g_read_sink.store(sink.load(), std::memory_order_relaxed);

  result.bytes_per_second = median(result.samples);
  result.cpu_share = median(std::move(shares));
  result.scheduled_bytes_per_second = median(std::move(scheduled));
  return result;
}

}  // namespace lockstep::cpu
