#include "cpu/isa.h"

#include <cpuid.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace lockstep::cpu {
namespace {

struct CpuidBits {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool os_ymm = false, os_zmm = false;  // XCR0 says the OS saves YMM / ZMM state
};

CpuidBits read_cpuid() {
  CpuidBits b;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return b;
  b.fma = ecx & (1u << 12);
  b.f16c = ecx & (1u << 29);
  const bool osxsave = ecx & (1u << 27);
  if (osxsave) {
    std::uint32_t xcr0_lo = 0, xcr0_hi = 0;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    b.os_ymm = (xcr0_lo & 0x6u) == 0x6u;      // SSE and AVX state
    b.os_zmm = (xcr0_lo & 0xe6u) == 0xe6u;    // + opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    b.avx2 = ebx & (1u << 5);
    b.avx512f = ebx & (1u << 16);
    b.avx512dq = ebx & (1u << 17);
    b.avx512bw = ebx & (1u << 30);
    b.avx512vl = ebx & (1u << 31);
    b.avx512vnni = ecx & (1u << 11);
  }
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) b.avx512bf16 = eax & (1u << 5);
  return b;
}

const CpuidBits& cpuid_bits() {
  static const CpuidBits bits = read_cpuid();
  return bits;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Portable: return "portable";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

std::optional<Isa> parse_isa(std::string_view text) {
  if (text == "portable") return Isa::Portable;
  if (text == "avx2") return Isa::Avx2;
  if (text == "avx512") return Isa::Avx512;
  if (text == "native") return best_isa();
  return std::nullopt;
}

bool isa_supported(Isa isa) {
  const auto& b = cpuid_bits();
  switch (isa) {
    case Isa::Portable: return true;
    case Isa::Avx2: return b.os_ymm && b.avx2 && b.fma && b.f16c;
    case Isa::Avx512:
      return isa_supported(Isa::Avx2) && b.os_zmm && b.avx512f && b.avx512bw && b.avx512vl &&
             b.avx512dq && b.avx512vnni;
  }
  return false;
}

bool has_avx512_bf16() { return cpuid_bits().avx512bf16; }

Isa best_isa() {
  Isa best = isa_supported(Isa::Avx512) ? Isa::Avx512
             : isa_supported(Isa::Avx2) ? Isa::Avx2
                                        : Isa::Portable;
  if (const char* env = std::getenv("LOCKSTEP_ISA")) {
    const std::string_view name = env;
    const auto wanted = name == "native" ? std::nullopt : parse_isa(name);
    if (wanted && *wanted != best && isa_supported(*wanted) &&
        static_cast<int>(*wanted) < static_cast<int>(best))
      best = *wanted;
  }
  return best;
}

}  // namespace lockstep::cpu
