// AVX-512 streaming read: eight 64-byte loads (one 512-byte block, 8 cache lines) per iteration
// into eight independent XOR chains, so the load ports, not a dependency chain, set the pace.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cpu/read_bandwidth_kernels.h"

namespace lockstep::cpu::kernels {

std::uint64_t read_stream_avx512(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const __m512i*>(data);
  const std::size_t blocks = bytes / 512;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0;
  for (std::size_t i = 0; i < blocks; ++i, p += 8) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + 0));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + 1));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + 2));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + 3));
    a4 = _mm512_xor_si512(a4, _mm512_load_si512(p + 4));
    a5 = _mm512_xor_si512(a5, _mm512_load_si512(p + 5));
    a6 = _mm512_xor_si512(a6, _mm512_load_si512(p + 6));
    a7 = _mm512_xor_si512(a7, _mm512_load_si512(p + 7));
  }
  a0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)),
                        _mm512_xor_si512(_mm512_xor_si512(a4, a5), _mm512_xor_si512(a6, a7)));
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(reinterpret_cast<__m512i*>(lanes), a0);
  std::uint64_t folded = 0;
  for (std::uint64_t lane : lanes) folded ^= lane;
  return folded;
}

}  // namespace lockstep::cpu::kernels
